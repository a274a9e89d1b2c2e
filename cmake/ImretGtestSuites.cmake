# CTest tests for a GoogleTest program, one per test suite (stage.Suite runs
# --gtest_filter=Suite.*), not one per test: each test is a process that
# loads LibTorch (about half a second), and the suites are a quarter as many.
#
# imret_gtest_suites(TARGET prefix ENVIRONMENT env...) in a CMakeLists.txt:
# after each build the program lists its tests (--gtest_list_tests) and this
# file, run as a script, writes the add_test calls that CTest includes.

if(CMAKE_SCRIPT_MODE_FILE)
  # Script mode: PROGRAM, PREFIX, OUTPUT, ENVIRONMENT (a ;-list escaped as |).
  execute_process(COMMAND ${PROGRAM} --gtest_list_tests OUTPUT_VARIABLE listing RESULT_VARIABLE status
                  ERROR_VARIABLE errors TIMEOUT 120)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "${PROGRAM} --gtest_list_tests failed (${status}): ${errors}")
  endif()
  string(REPLACE "|" ";" environment "${ENVIRONMENT}")
  set(content "")
  string(REPLACE "\n" ";" lines "${listing}")
  foreach(line ${lines})
    # Suite lines start in column 0 and end with '.' (a comment may follow: "  # TypeParam = ...").
    if(line MATCHES "^([^ #][^ ]*)\\.( .*)?$")
      set(suite "${CMAKE_MATCH_1}")
      if(suite MATCHES "^DISABLED_")
        continue()
      endif()
      string(APPEND content "add_test([=[${PREFIX}${suite}]=] [==[${PROGRAM}]==] [==[--gtest_filter=${suite}.*]==])\n")
      # 77: every test of the suite skipped itself (tests/unit/support/gtest_main.cpp).
      string(APPEND content "set_tests_properties([=[${PREFIX}${suite}]=] PROPERTIES ENVIRONMENT [==[${environment}]==] "
                            "SKIP_RETURN_CODE 77)\n")
    endif()
  endforeach()
  file(WRITE "${OUTPUT}" "${content}")
  return()
endif()

function(imret_gtest_suites target prefix)
  cmake_parse_arguments(ARG "" "" "ENVIRONMENT" ${ARGN})
  set(output "${CMAKE_CURRENT_BINARY_DIR}/${target}_suites.cmake")
  string(REPLACE ";" "|" environment "${ARG_ENVIRONMENT}")
  add_custom_command(TARGET ${target} POST_BUILD
                     COMMAND ${CMAKE_COMMAND} -D PROGRAM=$<TARGET_FILE:${target}> -D PREFIX=${prefix}
                             -D OUTPUT=${output} "-D ENVIRONMENT=${environment}"
                             -P ${CMAKE_CURRENT_FUNCTION_LIST_FILE}
                     BYPRODUCTS ${output} VERBATIM)
  set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES ${output})
endfunction()
