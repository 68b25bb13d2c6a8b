package protocol

import "fmt"

// Error is the central's answer to a frame it refuses.
type Error struct {
	Code    Code
	Message string
}

// Error makes *Error an error, so that a client can return the central's
// refusal as it came.
func (e *Error) Error() string {
	return fmt.Sprintf("central refused: %v: %s", e.Code, e.Message)
}

// Code says why the central refused a frame.
type Code uint8

// The error codes.
const (
	CodeMalformed     Code = 1  // payload does not decode; connection closed
	CodeUnknownType   Code = 2  // unknown message type; connection closed
	CodeFrameTooLarge Code = 3  // length over the limit; connection closed
	CodeInvalidBet    Code = 4  // a bet of the batch is invalid; nothing stored
	CodeUnexpected    Code = 5  // message not valid in this state; connection closed
	CodeBadAgency     Code = 6  // agency outside 1..AGENCIES_AMOUNT; connection closed
	CodeOutOfOrder    Code = 7  // batch leaves a gap; connection closed, resume from Welcome
	CodeDrawClosed    Code = 8  // new bets after the agency's Done or the draw; nothing stored
	CodeIncomplete    Code = 9  // Done's total differs from the committed count
	CodeBusy          Code = 10 // too many connections; try again later
	CodeUnavailable   Code = 11 // storage failed or the central is stopping; try again later
	CodeSuperseded    Code = 12 // a newer connection took over this agency
	CodeTimeout       Code = 13 // nothing arrived within the read timeout; connection closed
	CodeVersion       Code = 14 // the agency speaks another protocol version; connection closed
	CodeTLSRequired   Code = 15 // a plaintext agency at a central that requires TLS; sent in plaintext, connection closed
	CodeForbidden     Code = 16 // the agency's certificate does not allow the request; connection closed
)

var codeNames = map[Code]string{
	CodeMalformed: "malformed", CodeUnknownType: "unknown_type",
	CodeFrameTooLarge: "frame_too_large", CodeInvalidBet: "invalid_bet",
	CodeUnexpected: "unexpected", CodeBadAgency: "bad_agency",
	CodeOutOfOrder: "out_of_order", CodeDrawClosed: "draw_closed",
	CodeIncomplete: "incomplete", CodeBusy: "busy",
	CodeUnavailable: "unavailable", CodeSuperseded: "superseded",
	CodeTimeout: "timeout", CodeVersion: "version",
	CodeTLSRequired: "tls_required", CodeForbidden: "forbidden",
}

func (c Code) String() string {
	if s, ok := codeNames[c]; ok {
		return s
	}
	return fmt.Sprintf("code_%d", uint8(c))
}

// Closes reports whether the central closes the connection after sending
// an error with this code.
func (c Code) Closes() bool {
	switch c {
	case CodeInvalidBet, CodeDrawClosed, CodeIncomplete:
		return false
	}
	return true
}

// Retryable reports whether an agency that got this code may succeed by
// connecting again later and resuming.
func (c Code) Retryable() bool {
	switch c {
	case CodeOutOfOrder, CodeBusy, CodeUnavailable, CodeSuperseded, CodeTimeout:
		return true
	}
	return false
}
