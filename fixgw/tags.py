"""FIX tag numbers and enumerations fixgw reads or writes (no logic, no quickfix)."""

from __future__ import annotations

# Header / session
BEGIN_STRING, MSG_TYPE, SENDER_COMP_ID, TARGET_COMP_ID = 8, 35, 49, 56
MSG_SEQ_NUM, SENDING_TIME, POSS_DUP_FLAG, ORIG_SENDING_TIME = 34, 52, 43, 122
TEXT, REF_SEQ_NUM, REF_TAG_ID, REF_MSG_TYPE, SESSION_REJECT_REASON = 58, 45, 371, 372, 373
RAW_DATA_LENGTH, RAW_DATA = 95, 96
HEART_BT_INT, RESET_SEQ_NUM_FLAG, ENCRYPT_METHOD, DEFAULT_APPL_VER_ID = 108, 141, 98, 1137

# Kalshi Logon flags
CANCEL_ORDERS_ON_DISCONNECT = 8013
LISTENER_SESSION = 20126
RECEIVE_SETTLEMENT_REPORTS = 20127
MESSAGE_RETENTION_PERIOD = 20200
USE_DOLLARS = 21005
SKIP_PENDING_EXEC_REPORTS = 21011

# Application messages
EXEC_ID, ORDER_ID, CL_ORD_ID, EXEC_TYPE, ORD_STATUS, SYMBOL = 17, 37, 11, 150, 39, 55

SESSION_REJECT_REASONS: dict[int, str] = {
    0: "Invalid tag number",
    1: "Required tag missing",
    2: "Tag not defined for this message type",
    3: "Undefined tag",
    4: "Tag specified without a value",
    5: "Value is incorrect (out of range) for this tag",
    6: "Incorrect data format for value",
    7: "Decryption problem",
    8: "Signature problem",
    9: "CompID problem",
    10: "SendingTime accuracy problem",
    11: "Invalid MsgType",
    12: "XML validation error",
    13: "Tag appears more than once",
    14: "Tag specified out of required order",
    15: "Repeating group fields out of order",
    16: "Incorrect NumInGroup count for repeating group",
    17: "Non data value includes field delimiter",
    18: "Invalid/unsupported application version",
    99: "Other",
}
