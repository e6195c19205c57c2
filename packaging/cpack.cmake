# CPack: `cpack -G DEB` and `cpack -G TGZ` in the build dir (packaging/make_packages.sh runs
# both). Included from the root CMakeLists after packaging/install.cmake.
#   DEB  litestash-engine_<version>_<arch>.deb: components runtime, man, doc under /usr; Depends
#        computed by dpkg-shlibdeps (Debian dpkg-dev) from the binaries' shared libraries.
#   TGZ  litestash-engine-<version>-Linux-<arch>.tar.gz: every component (binaries, man pages,
#        docs, host library sources) under one top directory.
set(CPACK_PACKAGE_NAME ${PROJECT_NAME})
set(CPACK_PACKAGE_VENDOR "litestash")
set(LITESTASH_PACKAGE_MAINTAINER "litestash-engine maintainers" CACHE STRING
    "The .deb's Maintainer field, e.g. \"Name <email>\"")
set(CPACK_PACKAGE_CONTACT ${LITESTASH_PACKAGE_MAINTAINER})
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "sharded SQLite key-value storage engine spoken to over stdio frames")
set(CPACK_PACKAGE_DESCRIPTION
    "A storage engine that an application runs as a sidecar: the host spawns litestash-engine, \
writes requests to its stdin and reads answers from its stdout, each a 4-byte big-endian length \
and one MessagePack map. Keys are routed by BLAKE2b-512 to one of N SQLite files, each served by \
its own thread that commits whatever queued up in one transaction.")
if(EXISTS ${PROJECT_SOURCE_DIR}/LICENSE)
  set(CPACK_RESOURCE_FILE_LICENSE ${PROJECT_SOURCE_DIR}/LICENSE)
endif()
# Release binaries carry no debug info (the RelWithDebInfo build dir keeps it).
set(CPACK_STRIP_FILES ON)

# Which components each generator takes (CPACK_COMPONENTS_ALL is set per generator in
# cpack_project.cmake): the .deb is the engine; the tarball is the whole release.
set(CPACK_PROJECT_CONFIG_FILE ${PROJECT_SOURCE_DIR}/packaging/cpack_project.cmake)

# --- DEB ---------------------------------------------------------------------------------------
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_GROUPING ALL_COMPONENTS_IN_ONE)  # one .deb, not one per component
set(CPACK_DEBIAN_PACKAGE_NAME ${PROJECT_NAME})
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)                # <name>_<version>-<release>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_PACKAGE_SECTION database)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)                 # dpkg-shlibdeps: libsqlite3-0, libssl3, ...
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS OFF)

# --- TGZ ---------------------------------------------------------------------------------------
set(CPACK_ARCHIVE_COMPONENT_INSTALL OFF)                # monolithic: every component
set(CPACK_SYSTEM_NAME "Linux-${CMAKE_SYSTEM_PROCESSOR}")

include(CPack)
