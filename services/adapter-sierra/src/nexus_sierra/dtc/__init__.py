"""Sierra Chart's DTC protocol, the wire the client speaks: the binary encoding (`codec`, built from
`fields` and `enums`, messages in `messages*`), the JSON encoding (`json_codec`), one TCP connection
(`connection`), requests and their answers (`waiters`) and the session's start (`handshake`)."""
