"""The FIX codec (pure core: never imports quickfix).

``dictionary`` (+ ``dictionary_tables``) renders Kalshi's QuickFIX XML dictionaries in ``spec/``;
``wire`` splits raw FIX text into tags and values; ``codec`` (+ ``codec_tables``) decodes those
into :mod:`fixgw.models.fix` models and encodes models back into field pairs; ``lenient`` decodes
what the strict codec refuses without losing the message; ``fastorder`` writes a plain limit
order's body text directly; ``tags`` names the tag numbers code uses by hand.
"""
