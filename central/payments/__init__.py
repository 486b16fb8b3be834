"""E-payments at central: payment orders for the edges' quotes, the providers' adapters (WeChat Pay API v3,
Alipay), their notifications, the settlements the edges take into their journals, and the daily statements."""
