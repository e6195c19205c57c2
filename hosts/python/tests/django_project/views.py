"""Views of the test project: one cached whole by `cache_page`, one using the low-level API."""
import itertools

from django.core.cache import cache
from django.http import HttpResponse, JsonResponse
from django.views.decorators.cache import cache_page

_renders = itertools.count(1)


@cache_page(60)
def cached_page(request):
    """Answers how many times it was rendered: with the page cache, 1 until the cache is cleared."""
    return HttpResponse("render %d" % next(_renders))


def hits(request):
    """Counts requests in the cache: `add` creates the counter, `incr` bumps it atomically."""
    cache.add("hits", 0, timeout=None)
    return JsonResponse({"hits": cache.incr("hits")})
