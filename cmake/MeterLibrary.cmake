# meter_library(NAME SRCS a.cc b.cc DEPS meter::core ...)
# Makes the static library meter_NAME with alias meter::NAME, warnings as errors.
set(METER_WARNINGS -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wconversion
    -Wno-sign-conversion -Werror)
if(METER_FUZZ)
  # The fuzz build uses clang with GCC's libstdc++, whose headers warn under clang; GCC's
  # builds keep warnings as errors.
  list(REMOVE_ITEM METER_WARNINGS -Werror)
endif()

function(meter_library name)
  cmake_parse_arguments(ARG "" "" "SRCS;DEPS" ${ARGN})
  add_library(meter_${name} STATIC ${ARG_SRCS})
  add_library(meter::${name} ALIAS meter_${name})
  target_include_directories(meter_${name} PUBLIC $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/src>
                             $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include> $<INSTALL_INTERFACE:include>)
  target_compile_options(meter_${name} PRIVATE ${METER_WARNINGS})
  target_link_libraries(meter_${name} PUBLIC ${ARG_DEPS})
endfunction()

# meter_test(NAME SRCS a_test.cc DEPS meter::core ...): a GoogleTest binary registered with CTest.
function(meter_test name)
  cmake_parse_arguments(ARG "" "" "SRCS;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SRCS})
  target_compile_options(${name} PRIVATE ${METER_WARNINGS})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gmock GTest::gtest_main)
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60)
endfunction()
