# IKEv2 interop lab tests (root + network namespaces): ike_probe (our IkeSa as initiator)
# against strongSwan's charon as responder, PSK, one test per AWS proposal family plus the
# INVALID_KE retry, a wrong PSK, rekeying of both SAs initiated by each side (40 s) and forced
# UDP encapsulation on 4500, IKE fragmentation (RFC 7383) both ways, and the Wireshark key
# export (debug, ike/src/keylog.cpp) proven by tshark decrypting IKE and ESP in a capture;
# DPD both ways (charon's checks answered, charon killed and found dead by us then restarted,
# the probe killed and found dead by charon), cookies (RFC 7296 2.6) both ways, and a charon
# restart (recovered through our DPD: INITIAL_CONTACT is not acted on).
# Arguments of charon.sh: <ike_probe> <family> <mode>.
function(cgwd_ike_charon_test label family mode)
  set(name "lab: ike with strongSwan charon, ${label}")
  add_test(NAME "${name}"
           COMMAND ${CMAKE_SOURCE_DIR}/tests/lab/ike/charon.sh $<TARGET_FILE:ike_probe>
                   ${family} ${mode})
  set_tests_properties("${name}" PROPERTIES LABELS lab TIMEOUT 180)
endfunction()
cgwd_ike_charon_test("AES-128-CBC/SHA1/MODP-1024" 1 ok)
cgwd_ike_charon_test("AES-256-CBC/SHA2-256/MODP-2048" 2 ok)
cgwd_ike_charon_test("AES-256-GCM-16/ECP-384" 3 ok)
cgwd_ike_charon_test("AES-256-CBC/SHA2-512/MODP-2048-256" 4 ok)
cgwd_ike_charon_test("INVALID_KE retry MODP-2048 to ECP-384" 3 invalid-ke)
cgwd_ike_charon_test("wrong PSK gives AUTHENTICATION_FAILED" 2 wrong-psk)
cgwd_ike_charon_test("CHILD_SA and IKE SA rekeys from both sides" 2 rekey)
cgwd_ike_charon_test("forced UDP encapsulation floats to 4500" 3 encap)
cgwd_ike_charon_test("IKE fragmentation both ways" 2 frag)
cgwd_ike_charon_test("charon initiates, we answer as responder" 3 responder)
cgwd_ike_charon_test("IKE and ESP decrypted by tshark with exported keys, AES-256-CBC/SHA2-256" 2 wireshark)
cgwd_ike_charon_test("IKE and ESP decrypted by tshark with exported keys, AES-256-GCM-16" 3 wireshark)
cgwd_ike_charon_test("charon's DPD liveness checks answered by us" 2 dpd)
cgwd_ike_charon_test("our DPD finds a killed charon dead, then restarts" 3 dpd-dead)
cgwd_ike_charon_test("charon's DPD finds a killed probe dead and deletes the SA" 2 dpd-timeout)
cgwd_ike_charon_test("our responder demands a cookie from charon" 3 cookie)
cgwd_ike_charon_test("charon demands a cookie from our initiator" 2 cookie-charon)
cgwd_ike_charon_test("charon restarts and initiates again, we recover by DPD" 3 restart)
