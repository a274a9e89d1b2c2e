# cmake --install: the imret program, the library with its headers, and the
# package config, so that another project does
#   find_package(imret REQUIRED)
#   target_link_libraries(app PRIVATE imret::imret)
# (docs/library.md).
include(CMakePackageConfigHelpers)

set(IMRET_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/imret)

install(TARGETS imret_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS imret EXPORT imretTargets ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
# The library's headers: src/imret/<stage>/*.hpp (not the command line's) and
# the generated version.hpp, as include/imret/<stage>/*.hpp.
install(DIRECTORY ${CMAKE_SOURCE_DIR}/src/imret/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/imret
        FILES_MATCHING PATTERN "*.hpp" PATTERN "cli" EXCLUDE)
install(FILES ${CMAKE_BINARY_DIR}/generated/imret/core/version.hpp DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/imret/core)

install(EXPORT imretTargets NAMESPACE imret:: DESTINATION ${IMRET_INSTALL_CMAKEDIR})
configure_package_config_file(${CMAKE_SOURCE_DIR}/cmake/imretConfig.cmake.in
                              ${CMAKE_BINARY_DIR}/imretConfig.cmake INSTALL_DESTINATION ${IMRET_INSTALL_CMAKEDIR})
# 0.x: a new minor version may change the API.
write_basic_package_version_file(${CMAKE_BINARY_DIR}/imretConfigVersion.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/imretConfig.cmake ${CMAKE_BINARY_DIR}/imretConfigVersion.cmake
              ${CMAKE_SOURCE_DIR}/cmake/ImretOpenCV.cmake
        DESTINATION ${IMRET_INSTALL_CMAKEDIR})
