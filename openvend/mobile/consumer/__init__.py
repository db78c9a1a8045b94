"""The shopper's phone pages (消费者 H5), all under one merchant: sign in through WeChat or Alipay,
authorise and revoke pay-after, see the wallet, pay orders still owed."""
