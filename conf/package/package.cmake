# SPDX-License-Identifier: Apache-2.0
# Installation layout and the Debian package (CPack DEB): `cmake --build BUILD --target package`
# makes as4_<version>_<arch>.deb with the binaries, the configuration template, the systemd
# unit, the man pages and the documentation; test/package checks its file list.
include(GNUInstallDirs)

set(as4_man_pages ${CMAKE_SOURCE_DIR}/docs/man/as4d.8 ${CMAKE_SOURCE_DIR}/docs/man/as4ctl.1)
set(as4_man_gz)
foreach (page ${as4_man_pages})
	get_filename_component(name ${page} NAME)
	set(gz ${CMAKE_BINARY_DIR}/man/${name}.gz)
	# gzip -n: no name or time stamp inside, so rebuilding gives the same bytes
	add_custom_command(OUTPUT ${gz}
		COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/man
		COMMAND gzip -9nc ${page} > ${gz}
		DEPENDS ${page} VERBATIM)
	list(APPEND as4_man_gz ${gz})
endforeach ()
add_custom_target(as4_man ALL DEPENDS ${as4_man_gz})

install(FILES ${CMAKE_BINARY_DIR}/man/as4d.8.gz DESTINATION share/man/man8 COMPONENT runtime)
install(FILES ${CMAKE_BINARY_DIR}/man/as4ctl.1.gz DESTINATION share/man/man1 COMPONENT runtime)
install(FILES ${CMAKE_CURRENT_LIST_DIR}/as4d.yaml DESTINATION /etc/as4 COMPONENT runtime)
install(FILES ${CMAKE_CURRENT_LIST_DIR}/as4d.service DESTINATION /lib/systemd/system
	COMPONENT runtime)
install(FILES ${CMAKE_SOURCE_DIR}/README.md ${CMAKE_SOURCE_DIR}/docs/admin-guide.md
	${CMAKE_SOURCE_DIR}/docs/pilot-guide.md ${CMAKE_SOURCE_DIR}/docs/architecture.md
	${CMAKE_CURRENT_LIST_DIR}/copyright
	DESTINATION share/doc/as4 COMPONENT runtime)
install(FILES ${CMAKE_SOURCE_DIR}/conf/as4d.yaml ${CMAKE_SOURCE_DIR}/conf/as4d-ap2.yaml
	DESTINATION share/doc/as4/examples COMPONENT runtime)
install(DIRECTORY ${CMAKE_SOURCE_DIR}/conf/pmodes/ DESTINATION share/doc/as4/examples/pmodes
	COMPONENT runtime FILES_MATCHING PATTERN "*.yaml")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME as4)
set(CPACK_PACKAGE_VENDOR "as4 project")
set(CPACK_PACKAGE_CONTACT "as4 maintainers <as4@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
	"eDelivery AS4 access point for MedCom messages (ehmiSBDH, four-corner, SMP/SML)")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEB_COMPONENT_INSTALL OFF)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# library dependencies from the binaries themselves (dpkg-shlibdeps), plus the tools the
# maintainer scripts use
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser, ca-certificates")
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
	"as4d receives and sends signed and encrypted ebMS3/AS4 user messages (eDelivery AS4 1.15\n\
common profile, four-corner topology, dynamic discovery) and carries MedCom FHIR messages in\n\
ehmiSBDH envelopes; as4ctl inspects messages, wraps and checks envelopes and looks up SMPs.")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
	"${CMAKE_CURRENT_LIST_DIR}/postinst;${CMAKE_CURRENT_LIST_DIR}/postrm;${CMAKE_CURRENT_LIST_DIR}/conffiles")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
