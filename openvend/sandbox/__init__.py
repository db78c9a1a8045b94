"""Local gateways that speak the WeChat Pay v3 and Alipay OpenAPI protocols, for machines with no
internet: they verify our signatures, sign their answers with their own keys, deliver notifications on
the providers' retry schedules and serve the shopper-facing pages. No Django: they stand alone."""
