# imret is compiled position-independent (-fPIC), its precompiled header too.
# GCC ignores a precompiled header built with other -fpic/-fpie settings
# ("created and used with different settings of -fpie", -Winvalid-pch), and
# executables are compiled -fPIE (Debian's default, or POSITION_INDEPENDENT_CODE):
# the targets that reuse imret's header (REUSE_FROM imret) are compiled -fPIC.
#
# imret_match_precompiled_header(DIRECTORIES dir...): every such target
# defined in these directories.
function(imret_match_precompiled_header)
  cmake_parse_arguments(PARSE_ARGV 0 arg "" "" "DIRECTORIES")
  foreach(dir ${arg_DIRECTORIES})
    get_property(targets DIRECTORY ${dir} PROPERTY BUILDSYSTEM_TARGETS)
    foreach(target ${targets})
      get_target_property(reused ${target} PRECOMPILE_HEADERS_REUSE_FROM)
      if(reused STREQUAL "imret")
        target_compile_options(${target} PRIVATE ${CMAKE_CXX_COMPILE_OPTIONS_PIC})
      endif()
    endforeach()
  endforeach()
endfunction()
