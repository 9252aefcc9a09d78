# Warnings and sanitizers applied to every longpin target through the longpin_options interface library.
add_library(longpin_options INTERFACE)
target_compile_options(longpin_options INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wshadow -Wnon-virtual-dtor -Wpedantic>)
if(LONGPIN_WERROR)
  target_compile_options(longpin_options INTERFACE $<$<COMPILE_LANGUAGE:CXX>:-Werror>)
endif()
# Narrowing: clang's -Wshorten-64-to-32 finds no implicit 64- to 32-bit truncation in the tree today (block
# numbers, offsets and counts are 64-bit throughout) and keeps it so; g++ has no option this narrow (its
# -Wconversion warns on every sign change as well).
target_compile_options(longpin_options INTERFACE
  $<$<AND:$<COMPILE_LANGUAGE:CXX>,$<CXX_COMPILER_ID:Clang>>:-Wshorten-64-to-32>)
target_compile_definitions(longpin_options INTERFACE _GNU_SOURCE)
# Sanitizers instrument the C++ sources only: nvcc neither knows the flags nor could instrument device code.
# The runtime is linked wherever C++ is linked, which covers every longpin executable (CUDA objects included:
# they link through the C++ driver, as CMAKE_CUDA_HOST_COMPILER is the C++ compiler).
if(LONGPIN_SANITIZE)
  target_compile_options(longpin_options INTERFACE
    $<$<COMPILE_LANGUAGE:CXX>:-fsanitize=${LONGPIN_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all>)
  target_link_options(longpin_options INTERFACE
    $<$<LINK_LANGUAGE:CXX>:-fsanitize=${LONGPIN_SANITIZE}>)
endif()
