# FindTensorRT
# ------------
# Finds NVIDIA TensorRT's C++ runtime and ONNX parser.
#
# Hints: TensorRT_ROOT or the TENSORRT_ROOT environment variable.
# Result variables: TensorRT_FOUND, TensorRT_VERSION, TensorRT_INCLUDE_DIR.
# Imported targets: TensorRT::nvinfer, TensorRT::nvonnxparser.

find_path(TensorRT_INCLUDE_DIR NvInfer.h
  HINTS ${TensorRT_ROOT} $ENV{TENSORRT_ROOT}
  PATH_SUFFIXES include include/x86_64-linux-gnu include/aarch64-linux-gnu)
find_library(TensorRT_nvinfer_LIBRARY nvinfer
  HINTS ${TensorRT_ROOT} $ENV{TENSORRT_ROOT}
  PATH_SUFFIXES lib lib64 lib/x86_64-linux-gnu lib/aarch64-linux-gnu)
find_library(TensorRT_nvonnxparser_LIBRARY nvonnxparser
  HINTS ${TensorRT_ROOT} $ENV{TENSORRT_ROOT}
  PATH_SUFFIXES lib lib64 lib/x86_64-linux-gnu lib/aarch64-linux-gnu)

if(TensorRT_INCLUDE_DIR AND EXISTS "${TensorRT_INCLUDE_DIR}/NvInferVersion.h")
  file(STRINGS "${TensorRT_INCLUDE_DIR}/NvInferVersion.h" _trt_defs
       REGEX "^#define NV_TENSORRT_(MAJOR|MINOR|PATCH) [0-9]+")
  foreach(part MAJOR MINOR PATCH)
    string(REGEX REPLACE ".*NV_TENSORRT_${part} ([0-9]+).*" "\\1" _trt_${part} "${_trt_defs}")
  endforeach()
  set(TensorRT_VERSION "${_trt_MAJOR}.${_trt_MINOR}.${_trt_PATCH}")
endif()

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(TensorRT
  REQUIRED_VARS TensorRT_INCLUDE_DIR TensorRT_nvinfer_LIBRARY TensorRT_nvonnxparser_LIBRARY
  VERSION_VAR TensorRT_VERSION)

if(TensorRT_FOUND)
  foreach(lib nvinfer nvonnxparser)
    if(NOT TARGET TensorRT::${lib})
      add_library(TensorRT::${lib} UNKNOWN IMPORTED)
      set_target_properties(TensorRT::${lib} PROPERTIES
        IMPORTED_LOCATION "${TensorRT_${lib}_LIBRARY}"
        INTERFACE_INCLUDE_DIRECTORIES "${TensorRT_INCLUDE_DIR}")
    endif()
  endforeach()
endif()
mark_as_advanced(TensorRT_INCLUDE_DIR TensorRT_nvinfer_LIBRARY TensorRT_nvonnxparser_LIBRARY)
