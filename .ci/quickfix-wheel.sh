#!/usr/bin/env bash
# Build quickfix 1.16.0 from its sdist into a wheel in $1, with two changes:
#  1. TLS compiled in (HAVE_SSL, linked to libssl/libcrypto): Kalshi refuses plain TCP.
#  2. SWIG's director mutex fixed: the generated Swig::Mutex frees its lock in Unlock()
#     and releases it in its destructor, so the first Python object handed to C++ by a
#     director (our LogFactory.create) leaves a freed lock that aborts the process at
#     exit ("The futex facility returned an unexpected error code"). We swap the two
#     calls back to release-on-unlock, free-on-destroy.
#  3. The TLS verify callback printf()s every certificate it checks to stdout; those
#     lines go to stderr instead so a program's stdout stays its own.
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
open(p, "w").write(s)
u = p.replace("QuickfixPython.cpp", "UtilitySSL.cpp")
t = open(u).read()
if t.count('printf(\n      "Certificate Verification: depth') != 1 or t.count('printf("Certificate Verification: Error') != 1:
    sys.exit("quickfix-wheel.sh: UtilitySSL.cpp verify callback not found; review the patch")
t = t.replace('printf(\n      "Certificate Verification: depth', 'fprintf(stderr,\n      "Certificate Verification: depth')
t = t.replace('printf("Certificate Verification: Error', 'fprintf(stderr, "Certificate Verification: Error')
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
PY
mkdir -p "$out"
CFLAGS=-DHAVE_SSL=1 CXXFLAGS=-DHAVE_SSL=1 LDFLAGS='-Wl,--no-as-needed -lssl -lcrypto' \
  "$py" -m pip wheel -q --no-cache-dir --no-deps -w "$out" "$src"
ls "$out"/quickfix-1.16.0-*.whl
