# Warnings and sanitizers applied to every longpin target through the longpin_options interface library.
add_library(longpin_options INTERFACE)
target_compile_options(longpin_options INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wshadow -Wnon-virtual-dtor -Wpedantic>)
if(LONGPIN_WERROR)
  target_compile_options(longpin_options INTERFACE $<$<COMPILE_LANGUAGE:CXX>:-Werror>)
endif()
target_compile_definitions(longpin_options INTERFACE _GNU_SOURCE)
if(LONGPIN_SANITIZE)
  target_compile_options(longpin_options INTERFACE -fsanitize=${LONGPIN_SANITIZE} -fno-omit-frame-pointer
                                                   -fno-sanitize-recover=all)
  target_link_options(longpin_options INTERFACE -fsanitize=${LONGPIN_SANITIZE})
endif()
