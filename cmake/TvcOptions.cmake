# Tri-state options for optional accelerators.
#
#   AUTO  use it when it is found, leave it out otherwise (default)
#   ON    it must be found; configuration fails otherwise
#   OFF   never look for it
#
# tvc_tristate_option(<var> <doc>) declares the cache variable and checks the
# value; tvc_resolve_tristate(<var> <found>) turns it into TVC_HAVE_<suffix>.
function(tvc_tristate_option var doc)
  set(${var} AUTO CACHE STRING "${doc} (AUTO, ON or OFF)")
  set_property(CACHE ${var} PROPERTY STRINGS AUTO ON OFF)
  string(TOUPPER "${${var}}" value)
  if(NOT value MATCHES "^(AUTO|ON|OFF)$")
    message(FATAL_ERROR "${var} must be AUTO, ON or OFF, not '${${var}}'")
  endif()
  set(${var} "${value}" PARENT_SCOPE)
endfunction()

# Sets <out> to TRUE/FALSE from the option value and whether it was found.
function(tvc_resolve_tristate var found what out)
  if(${var} STREQUAL "OFF")
    set(${out} FALSE PARENT_SCOPE)
  elseif(found)
    set(${out} TRUE PARENT_SCOPE)
  elseif(${var} STREQUAL "ON")
    message(FATAL_ERROR "${var}=ON but ${what} was not found")
  else()
    message(STATUS "${what} not found: building without it (${var}=AUTO)")
    set(${out} FALSE PARENT_SCOPE)
  endif()
endfunction()
