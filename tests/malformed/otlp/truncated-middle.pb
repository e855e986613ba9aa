
Ğ
·

service.name

orders-api

service.version
1.4.2

cloud.provider
aws

cloud.region
	eu-west-1
!
	faas.name
orders-api-handler
"
telemetry.sdk.language
pythonñ
O
&opentelemetry.instrumentation.botocore0.66b2
instrumentation.kind
sdk
Kù/5w³M¦£Î’G6S™\?