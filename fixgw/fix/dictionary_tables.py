"""Tables behind :mod:`fixgw.fix.dictionary`: Kalshi FIX fields and message layouts.

Pure data, stdlib only (never imports ``quickfix``).

``FIELDS`` maps tag -> (name, QuickFIX type, enum spec).  An enum spec is
``"value=DESCRIPTION value=DESCRIPTION ..."`` (empty string: any value allowed).
Standard tags keep their FIX 5.0 SP2 names except where Kalshi renamed them
(2964, 730, 1703-1705); Kalshi-specific typing wins over the standard one
(e.g. 79 AllocAccount is INT, 1705 is a STRING enum).

Message bodies use a tiny layout language, one string per message:
``"11* 38* 453(448* 447 452) 79"`` - a tag, ``*`` = required, and
``tag(...)`` = repeating group whose NUMINGROUP tag is ``tag``; the first
member is the group delimiter.  Groups nest.  Order is wire order.
"""
from __future__ import annotations

# --------------------------------------------------------------------------- fields
FIELDS: dict[int, tuple[str, str, str]] = {
    # ---- session / transport (FIXT.1.1)
    7: ("BeginSeqNo", "SEQNUM", ""),
    8: ("BeginString", "STRING", ""),
    9: ("BodyLength", "LENGTH", ""),
    10: ("CheckSum", "STRING", ""),
    16: ("EndSeqNo", "SEQNUM", ""),
    34: ("MsgSeqNum", "SEQNUM", ""),
    35: ("MsgType", "STRING", ""),
    36: ("NewSeqNo", "SEQNUM", ""),
    43: ("PossDupFlag", "BOOLEAN", ""),
    45: ("RefSeqNum", "SEQNUM", ""),
    49: ("SenderCompID", "STRING", ""),
    50: ("SenderSubID", "STRING", ""),
    52: ("SendingTime", "UTCTIMESTAMP", ""),
    56: ("TargetCompID", "STRING", ""),
    57: ("TargetSubID", "STRING", ""),
    58: ("Text", "STRING", ""),
    89: ("Signature", "DATA", ""),
    93: ("SignatureLength", "LENGTH", ""),
    95: ("RawDataLength", "LENGTH", ""),
    96: ("RawData", "DATA", ""),
    97: ("PossResend", "BOOLEAN", ""),
    98: ("EncryptMethod", "INT", "0=NONE_OTHER"),
    108: ("HeartBtInt", "INT", ""),
    112: ("TestReqID", "STRING", ""),
    115: ("OnBehalfOfCompID", "STRING", ""),
    122: ("OrigSendingTime", "UTCTIMESTAMP", ""),
    123: ("GapFillFlag", "BOOLEAN", ""),
    128: ("DeliverToCompID", "STRING", ""),
    141: ("ResetSeqNumFlag", "BOOLEAN", ""),
    369: ("LastMsgSeqNumProcessed", "SEQNUM", ""),
    371: ("RefTagID", "INT", ""),
    372: ("RefMsgType", "STRING", ""),
    373: ("SessionRejectReason", "INT",
          "0=INVALID_TAG_NUMBER 1=REQUIRED_TAG_MISSING 2=TAG_NOT_DEFINED_FOR_THIS_MESSAGE_TYPE "
          "3=UNDEFINED_TAG 4=TAG_SPECIFIED_WITHOUT_A_VALUE 5=VALUE_IS_INCORRECT "
          "6=INCORRECT_DATA_FORMAT_FOR_VALUE 7=DECRYPTION_PROBLEM 8=SIGNATURE_PROBLEM "
          "9=COMPID_PROBLEM 10=SENDINGTIME_ACCURACY_PROBLEM 11=INVALID_MSGTYPE "
          "12=XML_VALIDATION_ERROR 13=TAG_APPEARS_MORE_THAN_ONCE "
          "14=TAG_SPECIFIED_OUT_OF_REQUIRED_ORDER 15=REPEATING_GROUP_FIELDS_OUT_OF_ORDER "
          "16=INCORRECT_NUMINGROUP_COUNT_FOR_REPEATING_GROUP "
          "17=NON_DATA_VALUE_INCLUDES_FIELD_DELIMITER "
          "18=INVALID_UNSUPPORTED_APPLICATION_VERSION 99=OTHER"),
    383: ("MaxMessageSize", "LENGTH", ""),
    464: ("TestMessageIndicator", "BOOLEAN", ""),
    553: ("Username", "STRING", ""),
    554: ("Password", "STRING", ""),
    789: ("NextExpectedMsgSeqNum", "SEQNUM", ""),
    1128: ("ApplVerID", "STRING", "9=FIX50SP2"),
    1137: ("DefaultApplVerID", "STRING", "9=FIX50SP2"),
    # ---- Kalshi Logon flags
    8013: ("CancelOrdersOnDisconnect", "BOOLEAN", ""),
    20126: ("ListenerSession", "BOOLEAN", ""),
    20127: ("ReceiveSettlementReports", "BOOLEAN", ""),
    20200: ("MessageRetentionPeriod", "INT", ""),
    21005: ("UseDollars", "BOOLEAN", ""),
    21006: ("CancelOrderOnPause", "BOOLEAN", ""),
    21007: ("EnableIocCancelReport", "BOOLEAN", ""),
    21008: ("PreserveOriginalOrderQty", "BOOLEAN", ""),
    21011: ("SkipPendingExecReports", "BOOLEAN", ""),
    21012: ("UseExpiredOrdStatus", "BOOLEAN", ""),
    21026: ("AlwaysEmitNewBeforeTrade", "BOOLEAN", ""),
    21027: ("SplitCollateralReturn", "BOOLEAN", ""),
    # ---- application, standard tags
    6: ("AvgPx", "PRICE", ""),
    11: ("ClOrdID", "STRING", ""),
    14: ("CumQty", "QTY", ""),
    17: ("ExecID", "STRING", ""),
    18: ("ExecInst", "MULTIPLEVALUESTRING", "6=POST_ONLY"),
    30: ("LastMkt", "EXCHANGE", ""),
    31: ("LastPx", "PRICE", ""),
    32: ("LastQty", "QTY", ""),
    37: ("OrderID", "STRING", ""),
    38: ("OrderQty", "QTY", ""),
    39: ("OrdStatus", "CHAR",
         "0=NEW 1=PARTIALLY_FILLED 2=FILLED 4=CANCELED 5=REPLACED 6=PENDING_CANCEL "
         "8=REJECTED A=PENDING_NEW C=EXPIRED E=PENDING_REPLACE"),
    40: ("OrdType", "CHAR", "2=LIMIT"),
    41: ("OrigClOrdID", "STRING", ""),
    44: ("Price", "PRICE", ""),
    54: ("Side", "CHAR", "1=BUY_YES 2=SELL_NO"),
    55: ("Symbol", "STRING", ""),
    59: ("TimeInForce", "CHAR", "0=DAY 1=GOOD_TILL_CANCEL 3=IMMEDIATE_OR_CANCEL "
                                "4=FILL_OR_KILL 6=GOOD_TILL_DATE"),
    60: ("TransactTime", "UTCTIMESTAMP", ""),
    79: ("AllocAccount", "INT", ""),
    100: ("ExDestination", "EXCHANGE", ""),
    102: ("CxlRejReason", "INT",
          "0=TOO_LATE_TO_CANCEL 1=UNKNOWN_ORDER 2=BROKER 18=INVALID_PRICE_INCREMENT 99=OTHER"),
    103: ("OrdRejReason", "INT",
          "1=UNKNOWN_SYMBOL 2=EXCHANGE_CLOSED 3=ORDER_EXCEEDS_LIMIT 4=TOO_LATE_TO_ENTER "
          "6=DUPLICATE_ORDER 8=STALE_ORDER 11=UNSUPPORTED_ORDER_CHARACTERISTIC "
          "13=INCORRECT_QUANTITY 15=UNKNOWN_ACCOUNT 99=OTHER"),
    117: ("QuoteID", "STRING", ""),
    126: ("ExpireTime", "UTCTIMESTAMP", ""),
    136: ("NoMiscFees", "NUMINGROUP", ""),
    137: ("MiscFeeAmt", "AMT", ""),
    138: ("MiscFeeCurr", "CURRENCY", ""),
    139: ("MiscFeeType", "STRING", "4=EXCHANGE_FEES"),
    150: ("ExecType", "CHAR",
          "0=NEW 4=CANCELED 5=REPLACED 6=PENDING_CANCEL 8=REJECTED A=PENDING_NEW "
          "C=EXPIRED E=PENDING_REPLACE F=TRADE"),
    151: ("LeavesQty", "QTY", ""),
    378: ("ExecRestatementReason", "INT", ""),
    379: ("BusinessRejectRefID", "STRING", ""),
    380: ("BusinessRejectReason", "INT",
          "0=OTHER 1=UNKNOWN_ID 2=UNKNOWN_SECURITY 3=UNSUPPORTED_MESSAGE_TYPE "
          "4=APPLICATION_NOT_AVAILABLE 5=CONDITIONALLY_REQUIRED_FIELD_MISSING "
          "6=NOT_AUTHORIZED 8=RATE_LIMIT_EXCEEDED"),
    434: ("CxlRejResponseTo", "CHAR", "1=ORDER_CANCEL_REQUEST 2=ORDER_CANCEL_REPLACE_REQUEST"),
    447: ("PartyIDSource", "CHAR", ""),
    448: ("PartyID", "STRING", ""),
    452: ("PartyRole", "INT", "24=CUSTOMER_ACCOUNT"),
    453: ("NoPartyIDs", "NUMINGROUP", ""),
    526: ("SecondaryClOrdID", "STRING", ""),
    530: ("MassCancelRequestType", "CHAR", "6=CANCEL_FOR_SESSION"),
    531: ("MassCancelResponse", "CHAR", "0=REJECTED 6=ALL_ORDERS_CANCELLED"),
    532: ("MassCancelRejectReason", "INT", ""),
    533: ("TotalAffectedOrders", "INT", ""),
    704: ("LongQty", "QTY", ""),
    705: ("ShortQty", "QTY", ""),
    715: ("ClearingBusinessDate", "LOCALMKTDATE", ""),
    730: ("SettlementPrice", "PRICE", ""),
    880: ("TrdMatchID", "STRING", ""),
    891: ("MiscFeeBasis", "INT", "0=ABSOLUTE"),
    893: ("LastFragment", "BOOLEAN", ""),
    1057: ("AggressorIndicator", "BOOLEAN", ""),
    1703: ("NoCollateralAmountChanges", "NUMINGROUP", ""),
    1704: ("CollateralAmountChange", "AMT", ""),
    1705: ("CollateralAmountType", "STRING", "BALANCE=BALANCE PAYOUT=PAYOUT"),
    2964: ("SelfTradePreventionType", "INT", "0=UNKNOWN 1=TAKER_AT_CROSS 2=MAKER"),
    # ---- application, Kalshi custom tags
    20105: ("MarketSettlementReportID", "STRING", ""),
    20106: ("TotNumMarketSettlementReports", "INT", ""),
    20107: ("MarketResult", "STRING", "yes=YES no=NO scalar=SCALAR"),
    20108: ("NoMarketSettlementPartyIDs", "NUMINGROUP", ""),
    20109: ("MarketSettlementPartyID", "STRING", ""),
    20110: ("MarketSettlementPartyRole", "INT", "24=CUSTOMER_ACCOUNT"),
    20130: ("OrderGroupID", "STRING", ""),
    20131: ("OrderGroupAction", "INT", "1=CREATE 2=RESET 3=DELETE 4=TRIGGER_CANCEL 5=UPDATE"),
    20132: ("OrderGroupContractsLimit", "INT", ""),
    21001: ("BeginExecID", "STRING", ""),
    21002: ("EndExecID", "STRING", ""),
    21003: ("ResendEventCount", "INT", ""),
    21004: ("EventResendRejectReason", "INT",
            "1=RATE_LIMITED 2=SERVER_ERROR 3=BEGIN_EXECID_TOO_SMALL 4=END_EXECID_TOO_LARGE"),
    21009: ("MaxExecutionCost", "AMT", ""),
    21023: ("RfqId", "STRING", ""),
    21030: ("SingleMarketCollateralReturn", "AMT", ""),
    21031: ("RangedMarketCollateralReturn", "AMT", ""),
}

# Margin gateway: enum sets that differ from the event-contract gateway.
MARGIN_ENUMS: dict[int, str] = {
    18: "6=POST_ONLY E=REDUCE_ONLY",
    452: "12=EXECUTING_TRADER 24=CUSTOMER_ACCOUNT",
    # the margin docs list 5 as "stale order" next to the standard 8; accept both
    103: FIELDS[103][2] + " 5=STALE_ORDER_ALT",
}

# --------------------------------------------------------------------------- transport
TRANSPORT_HEADER = "8* 9* 35* 1128 49* 56* 115 128 34* 50 57 43 97 52* 122 369"
TRANSPORT_TRAILER = "93 89 10*"

# msgtype -> (name, body)
TRANSPORT_MESSAGES: dict[str, tuple[str, str]] = {
    "0": ("Heartbeat", "112"),
    "1": ("TestRequest", "112*"),
    "2": ("ResendRequest", "7* 16*"),
    "3": ("Reject", "45* 371 372 373 58"),
    "4": ("SequenceReset", "123 36*"),
    "5": ("Logout", "58"),
    "A": ("Logon",
          "98* 108* 95 96 141 789 383 464 553 554 1137* "
          "8013 20126 20127 20200 21005 21006 21007 21008 21011 21012 21026 21027 58"),
}

# --------------------------------------------------------------------------- application
_PARTIES = "453(448* 447 452)"
_FEES = "136(137* 138 139 891)"
_COLLATERAL = "1703(1704* 1705)"

EVENT_MESSAGES: dict[str, tuple[str, str]] = {
    "D": ("NewOrderSingle",
          f"11* 18 38* 40* 44* 54* 55* 59 126 60 100 117 21023 {_PARTIES} 79 526 2964 "
          "21006 21009"),
    "F": ("OrderCancelRequest", f"11* 37 41* 54* 55* 100 {_PARTIES} 79"),
    "G": ("OrderCancelReplaceRequest",
          f"11* 37 41* 38* 40* 44 54* 55* 59 126 18 100 {_PARTIES} 79"),
    "8": ("ExecutionReport",
          "37* 11 41 17* 150* 39* 54* 55* 38 44 59 126 18 100 6 14* 151* 30 31 32 60 103 58 "
          f"378 2964 {_PARTIES} 79 526 715 704 705 880 1057 {_FEES} {_COLLATERAL} 21030 21031"),
    "9": ("OrderCancelReject", "37* 11* 41 39* 434 102 58 79"),
    "q": ("OrderMassCancelRequest", "11* 530* 79"),
    "r": ("OrderMassCancelReport", "11 37* 530 531* 532 533 58"),
    "j": ("BusinessMessageReject", "45 372* 379 380* 58"),
    "UOG": ("OrderGroupRequest", "20131* 20130 20132 79 100"),
    "UOH": ("OrderGroupResponse", "20130* 20131 20132 79 58"),
    "U1": ("EventResendRequest", "21001* 21002"),
    "U2": ("EventResendComplete", "45* 21003*"),
    "U3": ("EventResendReject", "45* 21004* 58"),
    "UMS": ("MarketSettlementReport",
            "20105* 55* 715* 20106 20107* 730 893 "
            f"20108(20109* 20110 704 705 {_COLLATERAL} {_FEES})"),
}

# Margin = event minus settlement reports and the event-only tags
# (no shard routing, no RFQ acceptance via D, no max-cost, no collateral split).
MARGIN_DROP_MESSAGES = frozenset({"UMS"})
MARGIN_DROP_TAGS = frozenset({100, 117, 21023, 21009, 21030, 21031})
