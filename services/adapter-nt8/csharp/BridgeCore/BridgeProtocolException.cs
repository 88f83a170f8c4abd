// The one exception a bridge frame can raise; mirrors nexus_protocol.bridge.BridgeProtocolError.
using System;
using System.Collections.Generic;

namespace Nexus.Bridge
{
    /// <summary>Why a frame was refused. The strings are part of the protocol (vectors.json pins them).</summary>
    public static class FrameErrorKind
    {
        public const string BadMagic = "bad_magic";
        public const string BadVersion = "bad_version";
        public const string BadFlags = "bad_flags";
        public const string BadLength = "bad_length";
        public const string Truncated = "truncated";
        public const string TrailingBytes = "trailing_bytes";
        public const string BadJson = "bad_json";
        public const string NotObject = "not_object";
        public const string UnknownType = "unknown_type";
        public const string MissingField = "missing_field";
        public const string UnknownField = "unknown_field";
        public const string BadSeq = "bad_seq";
        public const string BadValue = "bad_value";
    }

    /// <summary>
    /// A frame that cannot be encoded or decoded. <see cref="Kind"/> is one of <see cref="FrameErrorKind"/>,
    /// <see cref="Field"/> names the offending field (e.g. "positions[0].quantity") when there is one, and
    /// <see cref="Decoded"/> holds the messages a <see cref="FrameDecoder.Feed"/> call decoded before the bad
    /// frame. After a framing error the stream is out of sync: handle those, then close the connection.
    /// </summary>
    public sealed class BridgeProtocolException : Exception
    {
        public string Kind { get; private set; }
        public string Field { get; private set; }
        public string Detail { get; private set; }
        public IList<BridgeMessage> Decoded { get; internal set; }

        public BridgeProtocolException(string kind, string detail, string field = null)
            : base(kind + ": " + detail)
        {
            Kind = kind;
            Detail = detail;
            Field = field;
            Decoded = new List<BridgeMessage>();
        }
    }
}
