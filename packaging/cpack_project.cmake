# Read by cpack once per generator (CPACK_PROJECT_CONFIG_FILE): what each package holds and
# where. The .deb is the engine (binaries, man pages, docs) under /usr; the tarball is the whole
# release, host library sources included, as bin/ and share/ under its top directory.
if(CPACK_GENERATOR STREQUAL "DEB")
  set(CPACK_COMPONENTS_ALL runtime man doc)
  set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
else()
  set(CPACK_PACKAGING_INSTALL_PREFIX /)
endif()
