# libtvc: the C API of csrc/include/tvc/tvc.h as a shared library, installed inside the
# package (tvc_ffmpeg/lib, tvc_ffmpeg/include, tvc_ffmpeg/lib/pkgconfig/tvc.pc).
#
# It hosts the Python pipeline through an embedded interpreter, so it links the shared
# libpython of the Python the package is built for, with an RPATH to it: a program that
# links only libtvc (ffmpeg) loads without LD_LIBRARY_PATH. Included from CMakeLists.txt
# when TVC_BUILD_CAPI is not OFF; AUTO builds it where the Python package is built and
# that Python has a shared libpython.

set(_capi_possible FALSE)
if(TVC_BUILD_PYTHON)
  find_package(Python 3.9 COMPONENTS Interpreter Development.Embed)
  if(Python_Development.Embed_FOUND)
    execute_process(
      COMMAND "${Python_EXECUTABLE}" -c
              "import sysconfig; print(sysconfig.get_config_var('Py_ENABLE_SHARED') or 0)"
      OUTPUT_VARIABLE _py_shared OUTPUT_STRIP_TRAILING_WHITESPACE)
    if(_py_shared STREQUAL "1")
      set(_capi_possible TRUE)
    endif()
  endif()
endif()
tvc_resolve_tristate(TVC_BUILD_CAPI ${_capi_possible}
  "a shared libpython (and TVC_BUILD_PYTHON) for libtvc" TVC_HAVE_CAPI)
if(NOT TVC_HAVE_CAPI)
  return()
endif()

# What the embedded interpreter needs to find this install's Python and site-packages
# when the host process (ffmpeg) has none: the interpreter the package was built for.
configure_file("${CMAKE_CURRENT_SOURCE_DIR}/csrc/capi/capi_config.h.in"
               "${CMAKE_CURRENT_BINARY_DIR}/capi/tvc_capi_config.h" @ONLY)

add_library(tvc SHARED
  csrc/capi/tvc_common.cpp
  csrc/capi/host.cpp
  csrc/capi/encoder.cpp
  csrc/capi/decoder.cpp)
target_include_directories(tvc PRIVATE csrc/include "${CMAKE_CURRENT_BINARY_DIR}/capi")
target_compile_definitions(tvc PRIVATE TVC_VERSION_STRING="${TVC_VERSION}" TVC_BUILDING_LIBRARY)
target_link_libraries(tvc PRIVATE Python::Python tvc_build_flags ${CMAKE_DL_LIBS})
# SONAME libtvc.so.<ABI major>: tvc.h's TVC_API_VERSION_MAJOR.
file(STRINGS "${CMAKE_CURRENT_SOURCE_DIR}/csrc/include/tvc/tvc.h" _abi_major
     REGEX "#define TVC_API_VERSION_MAJOR ")
string(REGEX REPLACE ".*MAJOR ([0-9]+).*" "\\1" TVC_ABI_MAJOR "${_abi_major}")
get_filename_component(_py_libdir "${Python_LIBRARY_RELEASE}" DIRECTORY)
if(NOT _py_libdir)
  list(GET Python_LIBRARIES 0 _py_lib)
  get_filename_component(_py_libdir "${_py_lib}" DIRECTORY)
endif()
set_target_properties(tvc PROPERTIES
  OUTPUT_NAME tvc
  SOVERSION ${TVC_ABI_MAJOR}
  C_VISIBILITY_PRESET hidden
  BUILD_RPATH "${_py_libdir}"
  INSTALL_RPATH "${_py_libdir}")
# Only the TVC_API functions are exported; nothing else can clash with the host.
target_link_options(tvc PRIVATE -Wl,--no-undefined)

configure_file("${CMAKE_CURRENT_SOURCE_DIR}/cmake/tvc.pc.in"
               "${CMAKE_CURRENT_BINARY_DIR}/capi/tvc.pc" @ONLY)
install(TARGETS tvc LIBRARY DESTINATION tvc_ffmpeg/lib NAMELINK_COMPONENT Unspecified)
install(FILES csrc/include/tvc/tvc.h DESTINATION tvc_ffmpeg/include/tvc)
install(FILES "${CMAKE_CURRENT_BINARY_DIR}/capi/tvc.pc" DESTINATION tvc_ffmpeg/lib/pkgconfig)
message(STATUS "libtvc: hosting ${Python_EXECUTABLE} (libpython in ${_py_libdir})")
