# SPDX-License-Identifier: Apache-2.0
# One interop check: run `as4ctl inspect` on a vector and compare the exit status and fields of
# its JSON report with what ../shared/interop/README.md expects.
#
#   cmake -DAS4CTL=... -DSHARED=... -DWORK=... -DMSG=<file in interop/messages>
#         -DRC=<exit status> [-DARGS=a|b|...] [-DKEYS=name|...] [-DEXPECT=e|...] [-DOUT=ON]
#         [-DJSON=OFF] -P check_inspect.cmake
#
# ARGS: extra arguments; "@K/<file>" names a file of interop/keys.
# KEYS: interop key names (e.g. accesspointb): <name>.key.pem and <name>.cert.pem are joined
#       into one file with mode 0600 in WORK (as4ctl refuses key files others can read, and
#       the shared copies are world-readable) and passed as --key.
# EXPECT, one of:
#   path=value    the JSON value at path ("signature.valid", "payloads.0.mime_type") equals
#                 value; booleans are ON/OFF, null is <null>
#   path~text     the value contains text
#   len:path=n    the array at path has n elements
#   file:NAME=n   (with OUT) the payload file NAME written by --out has n bytes
#   file:NAME^hex (with OUT) the file starts with the bytes hex (lower case)
# Lists use "|" because ";" would be split by add_test.
cmake_minimum_required(VERSION 3.25)

foreach (v AS4CTL SHARED WORK MSG RC)
	if (NOT DEFINED ${v})
		message(FATAL_ERROR "check_inspect: ${v} not set")
	endif ()
endforeach ()

file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")

set(cmd "${AS4CTL}" inspect "${SHARED}/interop/messages/${MSG}")
if (NOT DEFINED JSON OR JSON)
	list(APPEND cmd --json)
endif ()

if (DEFINED KEYS AND NOT KEYS STREQUAL "")
	string(REPLACE "|" ";" keys "${KEYS}")
	foreach (k ${keys})
		file(READ "${SHARED}/interop/keys/${k}.key.pem" key_pem)
		file(READ "${SHARED}/interop/keys/${k}.cert.pem" cert_pem)
		# created empty with mode 0600 first, so the key is never readable by others
		file(TOUCH "${WORK}/${k}.pem")
		file(CHMOD "${WORK}/${k}.pem" PERMISSIONS OWNER_READ OWNER_WRITE)
		file(WRITE "${WORK}/${k}.pem" "${key_pem}${cert_pem}")
		list(APPEND cmd --key "${WORK}/${k}.pem")
	endforeach ()
endif ()

if (DEFINED ARGS AND NOT ARGS STREQUAL "")
	string(REPLACE "|" ";" args "${ARGS}")
	foreach (a ${args})
		string(REGEX REPLACE "^@K/" "${SHARED}/interop/keys/" a "${a}")
		list(APPEND cmd "${a}")
	endforeach ()
endif ()

if (OUT)
	list(APPEND cmd --out "${WORK}/out")
endif ()

execute_process(COMMAND ${cmd} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
string(REPLACE ";" " " shown "${cmd}")
if (NOT rc STREQUAL RC)
	message(FATAL_ERROR "exit status ${rc}, expected ${RC}\ncommand: ${shown}\n"
	        "stdout:\n${out}\nstderr:\n${err}")
endif ()

set(failures "")
if (DEFINED EXPECT AND NOT EXPECT STREQUAL "")
	string(REPLACE "|" ";" expects "${EXPECT}")
	foreach (e ${expects})
		if (e MATCHES "^file:([^=^]+)([=^])(.*)$")
			set(path "${WORK}/out/${CMAKE_MATCH_1}")
			set(op "${CMAKE_MATCH_2}")
			set(want "${CMAKE_MATCH_3}")
			if (NOT EXISTS "${path}")
				string(APPEND failures "  ${e}: file not written\n")
				continue()
			endif ()
			if (op STREQUAL "=")
				file(SIZE "${path}" got)
			else ()
				string(LENGTH "${want}" hexlen)
				math(EXPR nbytes "${hexlen} / 2")
				file(READ "${path}" got LIMIT ${nbytes} HEX)
			endif ()
			if (NOT got STREQUAL want)
				string(APPEND failures "  ${e}: got '${got}'\n")
			endif ()
			continue()
		endif ()
		if (e MATCHES "^len:([^=]+)=(.*)$")
			set(path "${CMAKE_MATCH_1}")
			set(op "#")
			set(want "${CMAKE_MATCH_2}")
		elseif (e MATCHES "^([^=~]+)([=~])(.*)$")
			set(path "${CMAKE_MATCH_1}")
			set(op "${CMAKE_MATCH_2}")
			set(want "${CMAKE_MATCH_3}")
		else ()
			message(FATAL_ERROR "bad expectation '${e}'")
		endif ()
		string(REPLACE "." ";" segs "${path}")
		string(JSON type ERROR_VARIABLE jerr TYPE "${out}" ${segs})
		if (jerr)
			string(APPEND failures "  ${e}: ${jerr}\n")
			continue()
		endif ()
		if (op STREQUAL "#")
			if (NOT type STREQUAL "ARRAY")
				string(APPEND failures "  ${e}: ${path} is ${type}, not an array\n")
				continue()
			endif ()
			string(JSON got LENGTH "${out}" ${segs})
		elseif (type STREQUAL "NULL")
			set(got "<null>")
		else ()
			string(JSON got GET "${out}" ${segs})
		endif ()
		if (op STREQUAL "~")
			string(FIND "${got}" "${want}" pos)
			if (pos EQUAL -1)
				string(APPEND failures "  ${e}: got '${got}'\n")
			endif ()
		elseif (NOT got STREQUAL want)
			string(APPEND failures "  ${e}: got '${got}'\n")
		endif ()
	endforeach ()
endif ()

if (failures)
	message(FATAL_ERROR "command: ${shown}\nfailed expectations:\n${failures}report:\n${out}")
endif ()
file(REMOVE_RECURSE "${WORK}")
