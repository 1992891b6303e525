#!/usr/bin/env bash
# Build quickfix 1.16.0 from its sdist into a wheel in $1, with two changes:
#  1. TLS compiled in (HAVE_SSL, linked to libssl/libcrypto): Kalshi refuses plain TCP.
#  2. SWIG's director mutex fixed: the generated Swig::Mutex frees its lock in Unlock()
#     and releases it in its destructor, so the first Python object handed to C++ by a
#     director (our LogFactory.create) leaves a freed lock that aborts the process at
#     exit ("The futex facility returned an unexpected error code"). We swap the two
#     calls back to release-on-unlock, free-on-destroy.
#  3. The TLS verify callback printf()s every certificate it checks, and its failures,
#     to stdout, where no program can attribute them to a session. Both printf()s are
#     removed; the reason of a failed handshake goes to the session's own event log instead
#     (item 6), where fixgw turns it into the session's last error.
#  4. SSLSocketConnection's destructor runs SSL_shutdown() after the socket monitor has
#     already closed the descriptor, so the close_notify went to whatever file or socket
#     reused that number meanwhile (a test caught it arriving on the simulator's control
#     socket; in a recorder it could be a database file). The destructor's shutdown is
#     made quiet: it updates the TLS state and writes nothing.
#  5. Session::next() leaves a session that was disabled (Session::logout()) while its
#     connection had not logged on yet connected for ever: it returns before even the Logon
#     timeout check. Closing it from another thread (Session::disconnect()) races the socket
#     loop (item 4's hazard). Now the engine's own thread closes such a connection on its
#     next tick, after an event line saying why ("Closing the connection of a disabled
#     session that is not logged on"); a disabled session is not reconnected.
#  6. SSLSocketInitiator::handshakeSSL logs a failed handshake as "SSL_connect failed with
#     SSL error 1" on the initiator's global log: no session, no reason. It now writes one
#     line on the session's event log: "SSL_connect failed: <certificate verification
#     result>; <OpenSSL error stack>".
#  7. Session setting AcceptSeqNumGaps=Y (fixgw sets it on KalshiNR and KalshiDC, which Kalshi
#     never resends): a MsgSeqNum above the expected one is taken as it is, after an event
#     line "MsgSeqNum gap accepted ... expecting N but received M", instead of being queued
#     behind a ResendRequest nobody answers (the session stalled until its heartbeat timeout).
#  8. Session setting DeliverInvalidAppMessages=Y: an application message that fails the
#     dictionary's validation (a value the dictionary does not list, a repeated tag, ...) is
#     still handed to fromApp, after an event line "Invalid application message delivered:
#     <reason> (MsgSeqNum N)", instead of being answered with a session Reject and dropped:
#     a fill must never be lost because Kalshi added an enum value. fixgw decodes it
#     leniently and reports the anomaly.
#  9. SWIG wraps every C++ call in "let go of the GIL, call, take it back". For a call that
#     can block (a Session's send and lookups, an initiator's start and stop, stores, logs) that
#     is needed: the engine's thread may hold that object's lock while it waits for the GIL to
#     call fromApp. For the data classes (Message, FieldMap, Header, fields, SessionID,
#     timestamps, DataDictionary) it only costs: each reacquire waits for whichever thread took
#     the GIL meanwhile (up to the 5 ms switch interval), so QuickFIX's thread stalled on every
#     message.toString() while the recorder's writer ran, and an order built field by field
#     handed the GIL over once per field. Their wrappers now keep the GIL (they take no lock
#     and never call back into Python); the library carries the marker string
#     "fixgw patch 9: data wrappers keep the GIL" (fixgw.adapter.tls.engine_build reads it).
# 10. Session setting LogIncomingMessages=N: QuickFIX does not hand each received message's text
#     to the log (fixgw's log is Python: one more trip into the interpreter, and a wait for the
#     GIL, per message, for a text nobody writes when the messages log is off). The one use
#     fixgw had for it, the wire text of a message that fails validation, now travels on item
#     8's event line instead: after a newline, the text as received (not for a queued message).
# Compiler flags: -O3 -DNDEBUG, the interpreter's own release level (its defaults are *replaced* by CFLAGS/CXXFLAGS,
# so without them QuickFIX compiles with no optimisation at all), and -frecord-gcc-switches
# so the installed engine carries its own flags (fixgw.adapter.tls.engine_build reads them back).
set -euo pipefail
out=${1:?usage: quickfix-wheel.sh OUTDIR}
py=${PYTHON:-python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$py" -m pip download -q --no-cache-dir --no-deps --no-binary :all: quickfix==1.16.0 -d "$work"
tar xzf "$work"/quickfix-1.16.0.tar.gz -C "$work"
src="$work/quickfix-1.16.0"
"$py" - "$src/C++/QuickfixPython.cpp" <<'PY'
import sys
p = sys.argv[1]
s = open(p).read()
old_dtor = "       ~Mutex() {\n           PyThread_release_lock(mutex_);\n       }"
old_unlock = "       void Unlock() {\n           PyThread_free_lock(mutex_);\n       }"
if s.count(old_dtor) != 1 or s.count(old_unlock) != 1:
    sys.exit("quickfix-wheel.sh: SWIG Mutex block not found; the sdist changed, review the patch")
s = s.replace(old_dtor, "       ~Mutex() {\n           PyThread_free_lock(mutex_);\n       }")
s = s.replace(old_unlock, "       void Unlock() {\n           PyThread_release_lock(mutex_);\n       }")
import re
blocking = re.compile(r"Session_|_Session$|Initiator|Acceptor|Store|Log|MySQL|PostgreSQL|Application|Socket|"
                      r"Connection|Query|Mutex|Thread|Synchronized|Lookup|Responder|Iterator")
head, *wrappers = s.split("SWIGINTERN PyObject *_wrap_")
kept = 0
for i, w in enumerate(wrappers):
    name, end = w[:w.index("(")], w.index("\n}\n") + 3
    if "SWIG_PYTHON_THREAD_BEGIN_ALLOW;" in w[:end] and not blocking.search(name):
        body = w[:end].replace("SWIG_PYTHON_THREAD_BEGIN_ALLOW;", "").replace("SWIG_PYTHON_THREAD_END_ALLOW;", "")
        wrappers[i], kept = body + w[end:], kept + 1
for must in ("Message_toString", "FieldMap_getField", "FieldMap_setField", "new_SessionID", "SessionID_toString"):
    if not any(w.startswith(must) and "SWIG_PYTHON_THREAD_BEGIN_ALLOW;" not in w[:w.index("\n}\n")] for w in wrappers):
        sys.exit(f"quickfix-wheel.sh: patch 9 did not reach {must}; review the patch")
if kept < 700:
    sys.exit(f"quickfix-wheel.sh: patch 9 found only {kept} data wrappers; review the patch")
s = head + "".join("SWIGINTERN PyObject *_wrap_" + w for w in wrappers)
s += '\nextern "C" { __attribute__((used)) const char fixgw_patch_9[] = "fixgw patch 9: data wrappers keep the GIL"; }\n'
open(p, "w").write(s)
u = p.replace("QuickfixPython.cpp", "UtilitySSL.cpp")
t = open(u).read()
if t.count('printf(\n      "Certificate Verification: depth') != 1 or t.count('printf("Certificate Verification: Error') != 1:
    sys.exit("quickfix-wheel.sh: UtilitySSL.cpp verify callback not found; review the patch")
t = t.replace('printf(\n      "Certificate Verification: depth', 'if (0) printf(\n      "Certificate Verification: depth')
t = t.replace('printf("Certificate Verification: Error', 'if (0) printf("Certificate Verification: Error')
if t.count("    ERR_print_errors_fp(stderr);\n  }\n\n  return (ok);") != 1:
    sys.exit("quickfix-wheel.sh: UtilitySSL.cpp verify error print not found; review the patch")
t = t.replace("    ERR_print_errors_fp(stderr);\n  }\n\n  return (ok);", "  }\n\n  return (ok);")
open(u, "w").write(t)
c = p.replace("QuickfixPython.cpp", "SSLSocketConnection.cpp")
x = open(c).read()
close = "  ssl_socket_close(m_socket, m_ssl);\n\n  SSL_free(m_ssl);"
if x.count(close) != 1:
    sys.exit("quickfix-wheel.sh: SSLSocketConnection destructor not found; review the patch")
x = x.replace(close, "  if (m_ssl) {\n    SSL_set_quiet_shutdown(m_ssl, 1);  // the fd is closed: write nothing\n  }\n" + close)
open(c, "w").write(x)
n = p.replace("QuickfixPython.cpp", "Session.cpp")
y = open(n).read()
idle = ("          generateLogout(m_state.logoutReason());\n        }\n      } else {\n        return;\n      }")
if y.count(idle) != 1:
    sys.exit("quickfix-wheel.sh: Session::next() logon-time block not found; review the patch")
y = y.replace(idle, "          generateLogout(m_state.logoutReason());\n        }\n      } else {\n"
              "        if (!isEnabled() && m_pResponder) {\n"
              "          m_state.onEvent(\"Closing the connection of a disabled session that is not logged on\");\n"
              "          disconnect();\n        }\n        return;\n      }")
open(n, "w").write(y)
h = p.replace("QuickfixPython.cpp", "SSLSocketInitiator.cpp")
z = open(h).read()
start = z.index("SSLHandshakeStatus SSLSocketInitiator::handshakeSSL(")
end = z.index("  return SSL_HANDSHAKE_SUCCEDED;\n}", start)
body = z[start:end]
fail = body.index("    } else if (err == SSL_ERROR_SYSCALL) {")
if body.count("return SSL_HANDSHAKE_FAILED;") != 2:
    sys.exit("quickfix-wheel.sh: SSLSocketInitiator::handshakeSSL changed; review the patch")
body = body[:fail] + """    }
    Session *session = connection->getSession();
    Log *log = session ? session->getLog() : getLog();
    std::string reason = "SSL_connect failed:";
    long verify = SSL_get_verify_result(ssl);
    if (verify != X509_V_OK) {
      reason += std::string(" certificate verification: ") + X509_verify_cert_error_string(verify)
          + " (" + IntConvertor::convert((int)verify) + ");";
    }
    char errorBuffer[512];
    unsigned long code;
    while ((code = ERR_get_error()) != 0) {
      ERR_error_string_n(code, errorBuffer, sizeof(errorBuffer));
      reason += std::string(" ") + errorBuffer + ";";
    }
    if (err == SSL_ERROR_SYSCALL) {
      reason += std::string(" ") + socket_get_last_error();
    }
    reason += " (SSL error " + IntConvertor::convert(err) + ")";
    log->onEvent(reason);
    return SSL_HANDSHAKE_FAILED;
  }

"""
z = z[:start] + body + z[end:]
open(h, "w").write(z)
hh = p.replace("QuickfixPython.cpp", "Session.h")
a = open(hh).read()
setter = "  void setSendNextExpectedMsgSeqNum(bool value) { m_sendNextExpectedMsgSeqNum = value; }\n"
member = "  bool m_sendNextExpectedMsgSeqNum;\n"
if a.count(setter) != 1 or a.count(member) != 1:
    sys.exit("quickfix-wheel.sh: Session.h changed; review the patch")
a = a.replace(setter, setter + "  void setAcceptSeqNumGaps(bool value) { m_acceptSeqNumGaps = value; }\n"
              "  void setDeliverInvalidAppMessages(bool value) { m_deliverInvalidAppMessages = value; }\n"
              "  void setLogIncomingMessages(bool value) { m_logIncomingMessages = value; }\n")
a = a.replace(member, member + "  bool m_acceptSeqNumGaps = false;\n  bool m_deliverInvalidAppMessages = false;\n"
              "  bool m_logIncomingMessages = true;\n  const std::string *m_incoming = nullptr;\n")
open(hh, "w").write(a)
f = p.replace("QuickfixPython.cpp", "SessionFactory.cpp")
b = open(f).read()
anchor = "  if (settings.has(SEND_NEXT_EXPECTED_MSG_SEQ_NUM)) {\n"
if b.count(anchor) != 1:
    sys.exit("quickfix-wheel.sh: SessionFactory.cpp changed; review the patch")
b = b.replace(anchor, '  if (settings.has("AcceptSeqNumGaps")) {\n'
              '    pSession->setAcceptSeqNumGaps(settings.getBool("AcceptSeqNumGaps"));\n  }\n'
              '  if (settings.has("DeliverInvalidAppMessages")) {\n'
              '    pSession->setDeliverInvalidAppMessages(settings.getBool("DeliverInvalidAppMessages"));\n  }\n'
              '  if (settings.has("LogIncomingMessages")) {\n'
              '    pSession->setLogIncomingMessages(settings.getBool("LogIncomingMessages"));\n  }\n' + anchor)
open(f, "w").write(b)
y = open(n).read()
high = "    if (checkTooHigh && isTargetTooHigh(*pMsgSeqNum)) {\n      doTargetTooHigh(msg);"
validate = "      DataDictionary::validate(message, &sessionDataDictionary, &applicationDataDictionary);\n    } else {"
incoming = "  try {\n    m_state.onIncoming(msg);\n"
if y.count(high) != 1 or y.count(validate) != 1 or y.count(incoming) != 1:
    sys.exit("quickfix-wheel.sh: Session.cpp verify/next changed; review the patch")
y = y.replace(high, "    if (checkTooHigh && m_acceptSeqNumGaps && isTargetTooHigh(*pMsgSeqNum)) {\n"
              "      m_state.onEvent(\"MsgSeqNum gap accepted (AcceptSeqNumGaps): expecting \"\n"
              "          + SEQNUM_CONVERTOR::convert(getExpectedTargetNum()) + \" but received \"\n"
              "          + SEQNUM_CONVERTOR::convert(*pMsgSeqNum));\n"
              "      m_state.setNextTargetMsgSeqNum(*pMsgSeqNum);\n    }\n" + high)
y = y.replace(validate, "      if (m_deliverInvalidAppMessages) {\n        try {\n"
              "          DataDictionary::validate(message, &sessionDataDictionary, &applicationDataDictionary);\n"
              "        } catch (FIX::Exception &e) {\n"
              "          m_state.onEvent(\"Invalid application message delivered: \" + std::string(e.what())\n"
              "              + \" (MsgSeqNum \" + header.getField(FIELD::MsgSeqNum) + \")\"\n"
              "              + (m_incoming && !queued ? \"\\n\" + *m_incoming : std::string()));\n"
              "        }\n      } else {\n"
              "        DataDictionary::validate(message, &sessionDataDictionary, &applicationDataDictionary);\n"
              "      }\n    } else {")
y = y.replace(incoming, "  try {\n    if (m_logIncomingMessages) {\n      m_state.onIncoming(msg);\n    }\n"
              "    struct Forget {\n      const std::string *&text;\n      ~Forget() { text = nullptr; }\n"
              "    } forget{m_incoming};\n    m_incoming = &msg;\n")
open(n, "w").write(y)
PY
mkdir -p "$out"
flags='-O3 -DNDEBUG -DHAVE_SSL=1 -frecord-gcc-switches'
CFLAGS=$flags CXXFLAGS=$flags LDFLAGS='-Wl,--no-as-needed -lssl -lcrypto' \
  "$py" -m pip wheel -q --no-cache-dir --no-deps -w "$out" "$src"
ls "$out"/quickfix-1.16.0-*.whl
