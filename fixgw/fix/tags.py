"""FIX tag numbers and enumerations fixgw reads or writes (no logic, no quickfix)."""

from __future__ import annotations

# Each name is the dictionary's field name in UPPER_SNAKE (tests/fix/test_tags.py checks it).
# Models name their tags through fixgw.fix.codec_tables; these are the tags code reads or
# writes by hand: on a quickfix.Message, a Logon, or the simulator's hand-built messages.

# Header / session
MSG_TYPE, SENDER_COMP_ID, TARGET_COMP_ID, MSG_SEQ_NUM, SENDING_TIME = 35, 49, 56, 34, 52
POSS_DUP_FLAG = 43
TEXT, REF_SEQ_NUM, REF_MSG_TYPE, SESSION_REJECT_REASON = 58, 45, 372, 373
RAW_DATA_LENGTH, RAW_DATA = 95, 96
HEART_BT_INT, TEST_REQ_ID, RESET_SEQ_NUM_FLAG = 108, 112, 141

# Kalshi Logon flags
CANCEL_ORDERS_ON_DISCONNECT = 8013
LISTENER_SESSION = 20126
RECEIVE_SETTLEMENT_REPORTS = 20127
MESSAGE_RETENTION_PERIOD = 20200
USE_DOLLARS = 21005
ENABLE_IOC_CANCEL_REPORT = 21007
PRESERVE_ORIGINAL_ORDER_QTY = 21008
SKIP_PENDING_EXEC_REPORTS = 21011
USE_EXPIRED_ORD_STATUS = 21012
ALWAYS_EMIT_NEW_BEFORE_TRADE = 21026
SPLIT_COLLATERAL_RETURN = 21027

# Application messages
CL_ORD_ID, ORDER_ID, EXEC_ID, EXEC_TYPE, ORD_STATUS = 11, 37, 17, 150, 39
SIDE, SYMBOL, CUM_QTY, LEAVES_QTY = 54, 55, 14, 151
NO_MISC_FEES, MISC_FEE_AMT = 136, 137  # the fees group and its delimiter
AVG_PX, LAST_PX, PRICE, NO_PARTY_IDS = 6, 31, 44, 453

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
