# `cmake --install` rules (GNUInstallDirs layout), included from the root CMakeLists after every
# target exists. Components, so each package takes what it should:
#   runtime  bin/litestash-engine, bin/litestash-cli (when the cli/ target exists)
#   man      share/man/man1/<program>.1.gz, generated at build time by help2man
#   doc      share/doc/litestash-engine/: README.md, docs/*.md, LICENSE (if any)
#   hosts    share/litestash-engine/hosts/{python,elixir,rust}: the host library sources
# The .deb takes runtime, man and doc; the release tarball takes everything; the wheel takes
# runtime (packaging/cpack.cmake, packaging/wheel/build_wheel.sh).
include(GNUInstallDirs)

set(LITESTASH_PROGRAMS litestash-engine)
if(TARGET litestash-cli)
  list(APPEND LITESTASH_PROGRAMS litestash-cli)
endif()

install(TARGETS ${LITESTASH_PROGRAMS} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
        COMPONENT runtime)

# Man pages from each program's own --help, so they never drift from the flags. Without
# help2man the build goes on without them (packaging/ensure-deps.sh package installs it).
# Sanitizer builds skip them: running an instrumented binary at build time buys nothing.
option(LITESTASH_MAN_PAGES "Generate man pages with help2man at build time" ON)
find_program(HELP2MAN_EXECUTABLE help2man)
find_program(GZIP_EXECUTABLE gzip)
if(LITESTASH_SANITIZE OR NOT LITESTASH_MAN_PAGES)
  message(STATUS "man pages: off (LITESTASH_SANITIZE or LITESTASH_MAN_PAGES=OFF)")
elseif(HELP2MAN_EXECUTABLE AND GZIP_EXECUTABLE)
  set(_man_pages)
  set(_name_litestash-engine "sharded SQLite key-value storage engine spoken to over stdio frames")
  set(_name_litestash-cli "command-line client for litestash-engine")
  foreach(prog IN LISTS LITESTASH_PROGRAMS)
    set(_page ${PROJECT_BINARY_DIR}/man/${prog}.1)
    set(_include ${PROJECT_SOURCE_DIR}/packaging/man/${prog}.h2m)
    set(_include_arg)
    set(_include_dep)
    if(EXISTS ${_include})
      set(_include_arg --include=${_include})
      set(_include_dep ${_include})
    endif()
    add_custom_command(
      OUTPUT ${_page}.gz
      COMMAND ${CMAKE_COMMAND} -E make_directory ${PROJECT_BINARY_DIR}/man
      # The version is the project's (a program needs only --help); --help may use stderr.
      COMMAND ${HELP2MAN_EXECUTABLE} --no-info --no-discard-stderr --section=1
              "--name=${_name_${prog}}" "--version-string=${prog} ${PROJECT_VERSION}"
              "--source=${PROJECT_NAME} ${PROJECT_VERSION}" ${_include_arg}
              --output=${_page} $<TARGET_FILE:${prog}>
      # -n: no name or timestamp in the gzip header, so the page is reproducible.
      COMMAND ${GZIP_EXECUTABLE} -9nf ${_page}
      DEPENDS ${prog} ${_include_dep}
      COMMENT "help2man: ${prog}.1"
      VERBATIM)
    list(APPEND _man_pages ${_page}.gz)
  endforeach()
  add_custom_target(litestash_man_pages ALL DEPENDS ${_man_pages})
  install(FILES ${_man_pages} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 COMPONENT man)
else()
  message(STATUS "help2man or gzip not found: no man pages (packaging/ensure-deps.sh package)")
endif()

file(GLOB _docs ${PROJECT_SOURCE_DIR}/docs/*.md)
foreach(f README.md LICENSE LICENSE.md LICENSE.txt COPYING)
  if(EXISTS ${PROJECT_SOURCE_DIR}/${f})
    list(APPEND _docs ${PROJECT_SOURCE_DIR}/${f})
  endif()
endforeach()
install(FILES ${_docs} DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT doc)

# The host libraries as sources (what `pip install`, a Mix path dependency or a Cargo path
# dependency would use), without anything a local build or test run leaves behind.
install(DIRECTORY ${PROJECT_SOURCE_DIR}/hosts/python ${PROJECT_SOURCE_DIR}/hosts/elixir
                  ${PROJECT_SOURCE_DIR}/hosts/rust
        DESTINATION ${CMAKE_INSTALL_DATADIR}/${PROJECT_NAME}/hosts
        COMPONENT hosts
        PATTERN _build EXCLUDE
        PATTERN deps EXCLUDE
        PATTERN target EXCLUDE
        PATTERN __pycache__ EXCLUDE
        PATTERN .pytest_cache EXCLUDE
        PATTERN *.egg-info EXCLUDE
        PATTERN *.pyc EXCLUDE
        PATTERN erl_crash.dump EXCLUDE
        PATTERN .elixir_ls EXCLUDE
        REGEX "/hosts/python/(build|dist)$" EXCLUDE)
install(FILES ${PROJECT_SOURCE_DIR}/hosts/README.md
        DESTINATION ${CMAKE_INSTALL_DATADIR}/${PROJECT_NAME}/hosts COMPONENT hosts)
