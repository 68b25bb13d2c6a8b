// Package protocol is the wire protocol between an agency (the client) and
// the central (the server), as PROTOCOL.md describes it.
//
// # Framing
//
// Every message travels in one frame:
//
//	+----------------------+-----------+-------------------------+
//	| length: uint32, BE   | type: u8  | payload: length-1 bytes |
//	+----------------------+-----------+-------------------------+
//
// length counts the type byte and the payload. A whole frame, header
// included, is at most MaxFrameSize (8192) bytes, so length is 1..8188. A
// reader checks length against that limit before it allocates anything,
// reads the rest with io.ReadFull, and reports a stream that ends inside a
// frame as io.ErrUnexpectedEOF. All integers are big-endian. A string is a
// length (uint8, or uint16 where noted) followed by that many UTF-8 bytes.
//
// # Messages
//
// Agency to central:
//
//	0x01 Hello         agency u32, version u16
//	0x02 Batch         first u64, count u16, count × bet
//	0x03 Done          total u64
//	0x04 WinnersQuery  (empty)
//	0x05 Health        (empty)
//	0x06 Declare       total u64, digest [32]                 (version 3)
//
// where a bet is: first_name str8, last_name str8, document str8,
// birthdate str8, number u16. The agency of a bet is the one named in Hello.
//
// Central to agency:
//
//	0x81 Welcome   committed u64, flags u8 (bit 0: agency done, bit 1: draw held), digest [32]
//	0x82 Ack       committed u64
//	0x83 Winners   flags u8 (bit 0: more frames follow), digest [32], count u16, count × document str8
//	0x84 NotYet    (empty)
//	0x85 HealthOK  expected u16, notified u16, flags u8 (bit 0: draw held)
//	0x86 DoneAck   total u64, digest [32]
//	0x87 Waiting   expected u16, notified u16, deadline u64 (Unix ms, 0: none)   (version 3)
//	0xFF Error     code u8, message str16
//
// A digest is a lottery.Digest, its 32 bytes as they are. Welcome's and
// DoneAck's are the agency's digest of the bets the central holds for it;
// Winners' is the draw's digest.
//
// # Batch identity
//
// An agency's bets are numbered from 0 in the order of its file. Batch.First
// is the number of the batch's first bet. The central keeps, per agency, the
// count of bets it has committed (Welcome.Committed and Ack.Committed): a
// batch that starts there is stored; one that lies wholly below it was stored
// before and is acknowledged again without storing it; one that starts above
// it leaves a gap and is refused with CodeOutOfOrder. This gives
// exactly-once storage without using any field of a bet as a key.
//
// # Versions
//
// Hello carries the agency's Version. A 4-byte Hello, the layout of
// version 1, decodes with Version 1, so that a central meeting an agency
// of another version can answer CodeVersion, naming both, and close.
// A central serves MinVersion (2) to Version (3), each session in its
// Hello's version: Declare and Waiting are of version 3 (Has), and a
// session of version 2 neither sends nor is sent them. An agency of
// version 3 refused CodeVersion by a central of version 2 says Hello again,
// on a new connection, with MinVersion.
//
// # Life cycle
//
// A connection starts with Hello (answered by Welcome) or Health (answered by
// HealthOK, after which the central closes). Then the agency sends Batch
// frames, several of them in flight if it likes; the central answers each, in
// order, with Ack once its bets are on stable storage, or with Error. Done
// (answered by DoneAck) says the agency has sent all Total bets. The agency
// checks the digests of Welcome and DoneAck against its own bets, and stops
// when they differ. WinnersQuery is answered with Winners once the draw is
// held, or with NotYet when the draw has not been held after the central has
// held the query for a while; the agency then asks again.
//
// In version 3 the agency sends Declare, its total and digest as read
// before it connected, right after Welcome; it has no answer, and the
// central shows it and trusts it for nothing else. While the central holds
// a WinnersQuery it sends Waiting frames, when the hold begins and at each
// change of the count of notified agencies, before the Winners or NotYet
// that end the hold.
//
// An Error whose code is fatal to the connection (see Code.Closes) is the
// last frame the central sends before it closes the connection: after a
// malformed, oversized, truncated or unknown frame the stream is in an
// unknown state and is never reused.
package protocol
