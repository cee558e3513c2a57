"""ISO 4217 List One: each active currency code and its minor unit (digits).

Taken from the list published by the ISO 4217 maintenance agency on
2024-06-25 (the list that added ZWG). Codes whose minor unit the list gives
as "N.A." (precious metals, bond-market units, XDR, XTS, XXX) are not here:
no amount can be rounded in them, so they are refused like unknown codes.
"""

from __future__ import annotations

from types import MappingProxyType

ISO_4217_LIST_DATE = "2024-06-25"

_ZERO = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF"
_THREE = "BHD IQD JOD KWD LYD OMR TND"
_FOUR = "CLF UYW"
_TWO = (
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD BTN BWP BYN BZD "
    "CAD CDF CHE CHF CHW CNY COP COU CRC CUC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL "
    "GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD "
    "LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN "
    "PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL "
    "THB TJS TMT TOP TRY TTD TWD TZS UAH USD USN UYU UZS VED VES WST XCD YER ZAR ZMW ZWG ZWL"
)

MINOR_UNITS: MappingProxyType[str, int] = MappingProxyType(
    {
        **{code: 2 for code in _TWO.split()},
        **{code: 0 for code in _ZERO.split()},
        **{code: 3 for code in _THREE.split()},
        **{code: 4 for code in _FOUR.split()},
    }
)
"""Currency code -> number of digits after the decimal point."""
