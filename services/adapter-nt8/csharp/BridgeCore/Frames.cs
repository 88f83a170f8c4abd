// Framing: an 8-byte header ("NX", version, flags = 0, uint32 big-endian body length) and a UTF-8 JSON
// body of 2 .. 1 MiB. The twin of nexus_protocol.bridge.frames; vectors.json pins both.
using System;
using System.Collections.Generic;
using System.Text;

namespace Nexus.Bridge
{
    public static class Frame
    {
        public const byte Version = 1;
        public const int HeaderSize = 8;
        public const int MinBodyBytes = 2;
        public const int MaxBodyBytes = 1048576;
        static readonly UTF8Encoding StrictUtf8 = new UTF8Encoding(false, true);

        /// <summary>The frame of a message whose Seq is stamped (validates every field first).</summary>
        public static byte[] Encode(BridgeMessage msg)
        {
            byte[] body;
            try { body = StrictUtf8.GetBytes(Codec.WriteMessage(msg)); }
            catch (EncoderFallbackException) { throw new BridgeProtocolException(FrameErrorKind.BadValue, "a string holds an unpaired surrogate"); }
            if (body.Length > MaxBodyBytes)
                throw new BridgeProtocolException(FrameErrorKind.BadLength, "body of " + body.Length + " bytes exceeds " + MaxBodyBytes);
            var frame = new byte[HeaderSize + body.Length];
            frame[0] = (byte)'N';
            frame[1] = (byte)'X';
            frame[2] = Version;
            frame[3] = 0;
            frame[4] = (byte)(body.Length >> 24);
            frame[5] = (byte)(body.Length >> 16);
            frame[6] = (byte)(body.Length >> 8);
            frame[7] = (byte)body.Length;
            Buffer.BlockCopy(body, 0, frame, HeaderSize, body.Length);
            return frame;
        }

        /// <summary>Decode exactly one complete frame (no sequence check).</summary>
        public static BridgeMessage Decode(byte[] data)
        {
            if (data.Length < HeaderSize)
            {
                CheckMagicPrefix(data, 0, data.Length);
                throw new BridgeProtocolException(FrameErrorKind.Truncated, data.Length + " bytes, a header needs " + HeaderSize);
            }
            int length = CheckHeader(data, 0, MaxBodyBytes);
            long end = (long)HeaderSize + length;
            if (data.Length < end) throw new BridgeProtocolException(FrameErrorKind.Truncated, data.Length + " bytes, the frame needs " + end);
            if (data.Length > end) throw new BridgeProtocolException(FrameErrorKind.TrailingBytes, (data.Length - end) + " bytes after the frame");
            return DecodeBody(data, HeaderSize, length);
        }

        public static BridgeMessage DecodeBody(byte[] data, int offset, int count)
        {
            return Codec.ReadMessage(Json.Parse(data, offset, count));
        }

        /// <summary>Name a wrong magic as soon as its bytes arrive.</summary>
        internal static void CheckMagicPrefix(byte[] buf, int offset, int available)
        {
            bool bad = (available >= 1 && buf[offset] != (byte)'N') || (available >= 2 && buf[offset + 1] != (byte)'X');
            if (!bad) return;
            bool tls = available >= 2 && buf[offset] == 0x16 && buf[offset + 1] == 0x03;
            string seen = BitConverter.ToString(buf, offset, Math.Min(2, available)).Replace("-", "").ToLowerInvariant();
            throw new BridgeProtocolException(FrameErrorKind.BadMagic, "magic is " + seen + ", expected 4e58" +
                (tls ? " (this looks like a TLS handshake: is the peer using TLS?)" : ""));
        }

        /// <summary>Validate the 8 header bytes at offset and return the body length.</summary>
        internal static int CheckHeader(byte[] buf, int offset, int maxBodyBytes)
        {
            CheckMagicPrefix(buf, offset, HeaderSize);
            if (buf[offset + 2] != Version)
                throw new BridgeProtocolException(FrameErrorKind.BadVersion, "protocol version " + buf[offset + 2] + " is not supported (supported: [" + Version + "])");
            if (buf[offset + 3] != 0)
                throw new BridgeProtocolException(FrameErrorKind.BadFlags, "flags byte is " + buf[offset + 3] + ", must be 0");
            uint length = ((uint)buf[offset + 4] << 24) | ((uint)buf[offset + 5] << 16) | ((uint)buf[offset + 6] << 8) | buf[offset + 7];
            if (length < MinBodyBytes || length > maxBodyBytes)
                throw new BridgeProtocolException(FrameErrorKind.BadLength, "body length " + length + " outside " + MinBodyBytes + ".." + maxBodyBytes);
            return (int)length;
        }
    }

    /// <summary>
    /// Streaming decoder for one direction of one connection. Feed bytes as they arrive; complete messages
    /// come back in order. Checks that seq runs 1, 2, 3 ... After an error it stays failed (the stream is
    /// out of sync): every later Feed throws the same exception.
    /// </summary>
    public sealed class FrameDecoder
    {
        readonly bool checkSeq;
        readonly int maxBodyBytes;
        byte[] buffer = new byte[4096];
        int count;
        BridgeProtocolException failed;

        public FrameDecoder(bool checkSeq = true, int maxBodyBytes = Frame.MaxBodyBytes)
        {
            this.checkSeq = checkSeq;
            this.maxBodyBytes = maxBodyBytes;
        }

        public long LastSeq { get; private set; }
        public int Buffered { get { return count; } }

        public List<BridgeMessage> Feed(byte[] data, int offset, int length)
        {
            if (failed != null) throw failed;
            Append(data, offset, length);
            var output = new List<BridgeMessage>();
            int pos = 0;
            try
            {
                BridgeMessage msg;
                while ((msg = Next(ref pos)) != null) output.Add(msg);
            }
            catch (BridgeProtocolException ex)
            {
                ex.Decoded = output;
                failed = ex;
                count = 0;
                throw;
            }
            // Compact once per call: moving the rest after every frame would be quadratic.
            Buffer.BlockCopy(buffer, pos, buffer, 0, count - pos);
            count -= pos;
            return output;
        }

        public List<BridgeMessage> Feed(byte[] data) { return Feed(data, 0, data.Length); }

        void Append(byte[] data, int offset, int length)
        {
            if (count + length > buffer.Length)
            {
                var bigger = new byte[Math.Max(buffer.Length * 2, count + length)];
                Buffer.BlockCopy(buffer, 0, bigger, 0, count);
                buffer = bigger;
            }
            Buffer.BlockCopy(data, offset, buffer, count, length);
            count += length;
        }

        BridgeMessage Next(ref int pos)
        {
            if (count - pos < Frame.HeaderSize)
            {
                Frame.CheckMagicPrefix(buffer, pos, count - pos);
                return null;
            }
            int length = Frame.CheckHeader(buffer, pos, maxBodyBytes);
            int end = pos + Frame.HeaderSize + length;
            if (count < end) return null;
            BridgeMessage msg = Frame.DecodeBody(buffer, pos + Frame.HeaderSize, length);
            if (checkSeq)
            {
                if (msg.Seq != LastSeq + 1)
                    throw new BridgeProtocolException(FrameErrorKind.BadSeq, "seq " + msg.Seq + " after " + LastSeq, "seq");
                LastSeq = msg.Seq;
            }
            pos = end;
            return msg;
        }
    }

    /// <summary>Stamps Seq 1, 2, 3 ... on the messages one side sends on one connection, then frames them.
    /// Not thread-safe: callers serialise sends (BridgeClient holds a lock).</summary>
    public sealed class FrameEncoder
    {
        public long LastSeq { get; private set; }

        public byte[] Encode(BridgeMessage msg)
        {
            msg.Seq = LastSeq + 1;
            byte[] frame = Frame.Encode(msg);
            LastSeq = msg.Seq;
            return frame;
        }
    }
}
