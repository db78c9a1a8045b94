"""Fixed inputs and expected outputs computed independently (the openssl command line for the RSA
signatures, pycryptodome for AES-256-GCM), so the vectors check our code rather than echo it.

The key below exists only for these vectors; it protects nothing."""

VECTOR_PRIVATE_KEY_PEM = """-----BEGIN PRIVATE KEY-----
MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQCYDSsRdf8qBSlh
vspO0aiNRjiUbYvE7PbKZ2ZU0oxT8IgY+vIGzl00sQgkecTYeOmKKAMXhBHWO52B
SNs33THbTYhkfnKsZfzN/qKXQ1IC6lPmKa5lm/CwuE+/UPwB9VzX1JvXTAT/YkiD
tWhwvCF0bzHWHy8G7/t6pAqngkK5o7qnUscfOTdDQ1gXrRLyO4Yhp6BNBJXkogc+
vYQOmV34WfriERbk0l9mZijKbWT0vMOVDamEFEVdrUMbGtC3igZ6tm0fgxrY5KuV
C/QuYJbR/zH5pppZdaH5t4fMLWEjpnTldzBFTW36WdRclYDjH2jZ3YRgIiKT8DYi
FxeKBxZrAgMBAAECggEAHG8N+EBwHIwFjo1OqMmlMvIIP51yrzs+9V+7r64F5uaK
lN1MqEAsBt/6LVQGHxMRXTAZT+r3KPBSBmy47evz2FZZ5K0OxbV2vpDZF99TdU8b
rGVsAv1T18BHzXeYAMfA+m18TRkesCFRfSvN4ZMU0IDAuZFwSmRTSz5k7ak60BsH
qitZseKw27ip+ndlWEaoTlytq71FoH4G018QMhbQKMY15Bdk/d430WI6alhWkal6
pG8jL2B25poG+wqzDc/Byy1cF0vMkS03+TP197bIZcsyAcouYJspzsgvQjFi08NL
KtW+TbHLnuvHb8Hrpq5RsAxAuwDJFlZQ7zrKp7UvAQKBgQDSWXyQjANQgMJCDtAC
zt0D10hwTxHc/3f1oU4dO0W19BG+wZbpgaI7zsDTe/rqYOsaqe4YakqiMYp88ptB
mFGCbKRRHgnV9DQdiU/57R4XZb9Vs7LXrvAbexhQBWqnx2pPxMob0Vkxm0AIiQof
CnTMbK9FZB96h8qC6r9zmaAHawKBgQC5DMdqnS/uwGIyuOzxOtu7+VMPmyAdrVNx
RBN9ken8elYyCAgaX5ST8IFAnWE8sesd3W95PDgnL9WpghCTd2/rrJSdmw8tyoKj
fVaUsOS/WcreH0iTM4S7wE5mLClGsHcy0UJzhKcDvO8yaM6KePdOY7goNeRtxAgN
sbFGk9vtAQKBgQDKmfx7cRAkMtBoNcIuYjbIY0vXOKFY/gr54BLP3u4m8d1BoU6M
vBqZhmt9hxXHN/Barz+v7njSPetIq5fUlzQy7hdaNhd9JwgnRsFsVPG90Xd3wWxJ
h6qmnWpucLkovs7r4/xSzNIfEIyda/j+quCSoUA0Etqq9y2b6STb4CUd3wKBgQC2
MIq1wQTMP8Vuwvsllhl5PMQ2fThlf5zDy46U9vA0kA4FPDseHDSgYw4em9R8eX9O
7BEwf8WZb1MhjNjdF56tnkDD20JahyOP63su8eqFKta9UneV1gc9At0tYxVQb7Ur
5zNRoKz+1Sl7rAyN8QMrvqo1jLnWCEcVlHlBT5ocAQKBgCTKvZMT19oGbgkZ+rrS
1Jl1YC62NFxdMu452C3CkpYwC+sOiwtSIKXcv2Lyt5qpqe7rn0dTkpkNLkxwR1el
Y1kaoBQbLr9B+NyVfmDcs1yQdCT/36vIdBuOACKmJDuCCv3wOPnmyhMkh2SZxC3p
yWL4QzCohRfsnw24RFVP62YI
-----END PRIVATE KEY-----
"""

REQUEST = {
    "method": "POST",
    "url": "/v3/pay/partner/transactions/jsapi",
    "timestamp": "1700000000",
    "nonce": "593BEC0C930BF1AFEB40B4A08C8FB242",
    "body": '{"sp_mchid":"1900000100","out_trade_no":"OV0001"}',
}
REQUEST_SIGNATURE = (
    "C0FTt980oIA5jekNKQUQxCAWXXHAVmTD26KNg/MnAl60DPJmWUj9iboQiBkGUXGxUljLxmeEYl/GgYiPOttN46abUWNgbfXE"
    "8tNTAA1lcoLKiY3lFeUcDoNckUHyz3U6SrZZDnqoWHVqX53ett2tLPYBsqSIuiAKDGDm8x7FFI40DyFr7+MIq6i7ReNxiESp"
    "TuSax3Y2hXI5OCWeGoQiS241XrUOBLveC8hyShfOA3BJCMyOKO95g3pz9XsWByNzdA82n406y2Wa6qKb19Rev9MyaLZJ7V+k"
    "qtLzbwXlhhAOWf2gtgbz9J1AUw5a2qPxWDtXfFfR/7Cc0SMK1S1BgQ=="
)

RESPONSE = {
    "timestamp": "1700000000",
    "nonce": "B3B2EBAAD8C0C7E1D38A3CC1A3A4E55E",
    "body": '{"code":"SUCCESS"}',
}
RESPONSE_SIGNATURE = (
    "TYm8H8BNcip6egshsZLszE3NCERV/d+th4acA25KPav+s/mrI6BU3YaaNFOPDgc3YrHZWNbukatwcYDIVesfPXFnQKKvCkM6"
    "5t/Yy8jdu1mD6pbkJd/S12yz9H0Vz/orpRkKhf2Pa5SffPw9A4sy+7A7opNv+5BkfWWwGuVrcSPaY4PaVIuibF3eyt6F9dSo"
    "vUX88zvGsJBhRkITM2cJfPux8VpESNrbpMyPO3PTS2O21c1rB9WOPP3arKUqnbmKkQB4Ym2UI3hM+42HM31ZoL/eh8UAcF9D"
    "vzTkvtmNdAyrbRnbvBV0L8PBZFRELPf3+Q6uAVh1LtmTi5jS1aeNLA=="
)

JSAPI = {
    "app_id": "wx8888888888888888",
    "timestamp": "1414561699",
    "nonce": "5K8264ILTKCH16CQ2502SI8ZNMTM67VS",
    "package": "prepay_id=wx201410272009395522657a690389285100",
}
JSAPI_PAY_SIGN = (
    "VcL3VODKdRk69ZzB7y4gXAPyr4GLJ35dCAng1eABWnyiKxac3FkYEVNqtCM02WNSFk/Nj3am1q0YXLK3piYrm3jeUEeTRaMV"
    "HKQmdzV34OcWsx1R+KTuVsu6sWkLza4F8SWiieVKB5p0ve8xNcF7D8wXuhz3H8BKOt5OhbXrxJaBfUaCkE5dUW70NHJYrIGY"
    "mI2MqbIqRZOCUZENtjwkQ6E+86eddPi12egPjocyGGNMBWhUlt0TVRbcRvGWS5iF/ug24AOpLFmJfFs4IjpCG/oXbnk0owQm"
    "+hk0c+nUaFMrUMMezsl1JqnYxwk8q3tfffwQ3+CqHlaHG6hIOAp9wg=="
)

AES_KEY = "0123456789abcdefghijABCDEFGHIJ01"
AES_NONCE = "8f3a1c2b9e7d"
AES_ASSOCIATED_DATA = "transaction"
AES_PLAINTEXT = '{"out_trade_no":"OV0001","amount":{"total":350}}'
AES_CIPHERTEXT = "0JGOWWeDkfhc+XDH/RaHzXySDXP9znOCf0ge8Lem1HJLqP+kyXERIeKSo2GNBnovo4KTN+/Y3FOoLHLPhnFrbA=="
