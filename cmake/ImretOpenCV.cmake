# imret's OpenCV: the parts it uses (core, imgproc, imgcodecs) as one imported
# target, imret::OpenCV. Included by imret's build and by the installed
# imretConfig.cmake, so that a program linking the installed imret finds the
# same parts the same way.
#
# Debian's libopencv-{core,imgproc,imgcodecs}-dev ship no CMake config (only
# libopencv-dev does, and it drags in VTK): without one, the parts are found
# by hand.
if(TARGET imret::OpenCV)
  return()
endif()
find_package(OpenCV QUIET COMPONENTS core imgproc imgcodecs)
if(NOT OpenCV_FOUND)
  find_path(OpenCV_INCLUDE_DIRS opencv2/core.hpp PATH_SUFFIXES opencv4 REQUIRED)
  set(OpenCV_LIBS)
  foreach(part core imgproc imgcodecs)
    find_library(OpenCV_${part}_LIBRARY opencv_${part} REQUIRED)
    list(APPEND OpenCV_LIBS ${OpenCV_${part}_LIBRARY})
  endforeach()
  find_path(OpenCV_ARCH_INCLUDE_DIR opencv2/cvconfig.h PATHS /usr/include/${CMAKE_LIBRARY_ARCHITECTURE}/opencv4)
  if(OpenCV_ARCH_INCLUDE_DIR)
    list(APPEND OpenCV_INCLUDE_DIRS ${OpenCV_ARCH_INCLUDE_DIR})
  endif()
endif()
add_library(imret::OpenCV INTERFACE IMPORTED)
set_target_properties(imret::OpenCV PROPERTIES
  INTERFACE_INCLUDE_DIRECTORIES "${OpenCV_INCLUDE_DIRS}"
  INTERFACE_LINK_LIBRARIES "${OpenCV_LIBS}")
