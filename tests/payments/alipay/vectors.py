"""A fixed RSA key pair made for these tests only (it signs nothing real) and the signature an
independent implementation (pycryptodomex, which python-alipay-sdk uses) produced with it."""

VECTOR_PRIVATE_KEY_PEM = """-----BEGIN PRIVATE KEY-----
MIIEvAIBADANBgkqhkiG9w0BAQEFAASCBKYwggSiAgEAAoIBAQCfBSyM2XgBxPvX
4RQdPGtyy5zkYa9xbySMTxR1zD/gkXygxzDVlCgtbYXETRLVfhpvODtp/KSFegKf
3nde46eCLa6uwDKzjkk2AAPCOQyXzud7SXDCmVACj+GdXo4IwXgi0YspZ8kerWly
2DJe6N5DIP8WuPBpj24+K6M4plDmsQz7s3IEgKyWD90+RMiArH/YJUaBpfPOpy8D
beO5hwFjh9hLDNV5kgidp2tE0TVqpM/qzN4hAYIdu6qpiDTUSYKNhNY/q9xAm1tr
cqWSI92S89feAhEPTOiDseaQmt+MhJmGh3snZOL2VMQTjyTspaetqVnsb3EwRvez
WF6xd2kvAgMBAAECggEACDEXZjZg3FFU9evvb676nlAQLKNiwdGv+oPQFoLVKGxT
8HQUt0rFNjlPEEc2JqqgtmmZYMv/EfYMAv4poRI/5eMUtGFw/8TM4bB5N/PK1BEv
U2Z7ncmRWahv9bSbVYJHEGgdb8Mb3klXWIGOOG/bAZNGXDU6A5BgnERHpQg5cxw1
JjcAFob8ecrC2Q9aQeTA6RHN4+2mj4wdJMjTu/Wg8oPZBEpQHUdDBgvqz12K5NdA
6WOaezolD1YqVQSBUx8AtJnihVkmrB1KvPxDgXqQNHYbvmTmDuFYXsLNUCPPoGj6
DWE33GbUIVv2opfkpjVLu9J2Y+sM93imrnDmBEC9PQKBgQDMEc/HNBoCpa6j/mJi
119KWR1H/y2MaaWlGD7La8gUbsRA+MW1Tbq9e5RNZkSsh+wWcLmibglenfsfDSOA
PRFnMaI0abHvAJ6/wk+u81Yje62vw+oAgqx9WNBzb52HSC5cuSssUNixp+DB4DcW
W7WBCmfYXaSXv6n6YnW6fYb1QwKBgQDHfJrPy1TI1BrqTgLTzHwfkX1meTuD15Ap
Zy5MHZxozI7v56T24EhXNEnlmZV9Y+vCVn/65TvJq+6LNQJWFV3I5jA0oEyAbCBr
t2yvVElo5i8ueKVXQPrA/FS9gQsOCVRgjhbADl05x43I+S6SUI27GuAmFgZd3bRI
vcokNHeHpQKBgBgWoigphkh5tju1c3enZKAqFMLC5GWGsv7h9cedWWjQCmqA8xWL
r1delwrr339eLAgaFk+OHZ0FmPb5Xg9tJfjAax00vMQxloucLDvCjZBysPXmcmDN
C/9f1HtL2ZR2eMKJOQdqI6oU3vsDtHz3Jl2tFMT9iMhA35emt67j0mJxAoGADx5z
gUIw19OzgoSNFE5QLfhR371adGCXDXxDdwNbglnWj3on94oCEZHl89/TA6DaEm2J
35MWF+/O8YAAAFQ4OmyvxJ1NjwIi5ucM9rDVq3yeoNAF//ntx0iYh5BLLTIp0fOS
59Vu3V0xcsTn8bDnPQIJcPmEXALckhLISjwrvv0CgYAgR08cPPR0HuqDUbtg9p5Z
N3Jy61sXmhC9AfwqcYthJvkB1iIuhPAlkK4ug2CalbKFJUvjP4cHjfO4LhlZMjle
cR7RRPOSnNlWKNJRN+GrF9bClkivzyAGGGeMB1QQTN0PhGce7eSUnt50Ae37V7Ut
QpAVfctYbnXzOqbke3WIyg==
-----END PRIVATE KEY-----
"""

VECTOR_PUBLIC_KEY_PEM = """-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAnwUsjNl4AcT71+EUHTxr
csuc5GGvcW8kjE8Udcw/4JF8oMcw1ZQoLW2FxE0S1X4abzg7afykhXoCn953XuOn
gi2ursAys45JNgADwjkMl87ne0lwwplQAo/hnV6OCMF4ItGLKWfJHq1pctgyXuje
QyD/FrjwaY9uPiujOKZQ5rEM+7NyBICslg/dPkTIgKx/2CVGgaXzzqcvA23juYcB
Y4fYSwzVeZIInadrRNE1aqTP6szeIQGCHbuqqYg01EmCjYTWP6vcQJtba3KlkiPd
kvPX3gIRD0zog7HmkJrfjISZhod7J2Ti9lTEE48k7KWnralZ7G9xMEb3s1hesXdp
LwIDAQAB
-----END PUBLIC KEY-----
"""

VECTOR_PARAMS = {
    "app_id": "2021000000000001",
    "method": "alipay.trade.query",
    "format": "JSON",
    "charset": "utf-8",
    "sign_type": "RSA2",
    "timestamp": "2026-12-04 10:30:00",
    "version": "1.0",
    "biz_content": '{"out_trade_no":"OV20261204000001","total_amount":"12.34","subject":"可乐 Cola"}',
    "notify_url": "",  # empty: left out of the signing string
}

VECTOR_SIGNING_STRING = (
    'app_id=2021000000000001&biz_content={"out_trade_no":"OV20261204000001","total_amount":"12.34",'
    '"subject":"可乐 Cola"}&charset=utf-8&format=JSON&method=alipay.trade.query&sign_type=RSA2'
    "&timestamp=2026-12-04 10:30:00&version=1.0"
)

VECTOR_SIGNATURE = (
    "gGX0eVLwcPL/KVdICq8S2+Z/dDZpKN2L+jNFWEWJxsc1vyasFbJq+RuWZb5bE7PRDF7bWvadhepfROesP/6ZufCfRYvoTA2I"
    "79+dbjT1VR0eY/LrHacTrfJnX4pf2cFDOBmur/HSlKfj8jV6HZtZDnoMEfjNRxXgrATLTPAkYqjT7uB8rWScJL3BAd3cY5Uh"
    "mByCFeLR6iesf4546K8BQ/ZGPBy4BJq/pQLnhXnGkfnILxeOT+f/bf6xU+G4uunU9a/Sc4p8klwr9DLTOmUgN9fGO2+HMSoO"
    "XOOxVZnP2+M14QzoRGRngoNH1zBB4Ju6fURWA5Ty7tbcr8H23EPmIw=="
)
