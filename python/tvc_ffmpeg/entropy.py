"""Entropy coding: the native rANS coder and integer CDF construction.

Everything here runs in the C++ core (``tvc_ffmpeg._native``) with integer
arithmetic only, so encoder and decoder agree bit for bit on every platform.
CDFs have ``n + 1`` entries from 0 to ``2**precision`` (precision <= 16) and
every symbol keeps a nonzero probability.

- :class:`CdfTable` - CDFs chosen per symbol by an index, optional escape
  symbol for values outside the table.
- :class:`RansEncoder` - give symbols in decoding order (``encode_indexed``,
  ``encode_cdfs``, ``encode_counts``, ``encode_logits``, ``encode_bits``), then
  ``finish()`` returns the stream.
- :class:`RansDecoder` - the matching ``decode_*`` calls in the same order,
  then ``finish()`` checks the stream ended exactly where it should.
- :func:`pmf_to_cdf`, :func:`logits_to_cdf` - integer CDF construction; logits
  are fixed-point with one LSB = 1/16 nat (``LOGIT_FRAC_BITS`` = 4).
"""

from __future__ import annotations

from ._native import (
    LOGIT_FRAC_BITS,
    MAX_PRECISION,
    CdfTable,
    RansDecoder,
    RansEncoder,
    logits_to_cdf,
    pmf_to_cdf,
)

__all__ = [
    "LOGIT_FRAC_BITS",
    "MAX_PRECISION",
    "CdfTable",
    "RansDecoder",
    "RansEncoder",
    "logits_to_cdf",
    "pmf_to_cdf",
]
