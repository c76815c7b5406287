package codec

import "github.com/bytedance/sonic"

// json is the sonic configuration the project encodes and decodes with:
// sonic's fastest defaults, with HTML characters left as they are (clients
// render text with textContent, not innerHTML).
var json = sonic.ConfigDefault

// MarshalJSON encodes v.
func MarshalJSON(v any) ([]byte, error) { return json.Marshal(v) }

// UnmarshalJSON decodes data into v.
func UnmarshalJSON(data []byte, v any) error { return json.Unmarshal(data, v) }

// ValidJSON reports whether data is one valid JSON value.
func ValidJSON(data []byte) bool { return json.Valid(data) }

// ReencodeJSON parses data and encodes it again, so what is passed on is
// well-formed JSON whatever the client sent.
func ReencodeJSON(data []byte) ([]byte, error) {
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

// RawJSON is a JSON value kept as its bytes, checked but not decoded.
type RawJSON = sonic.NoCopyRawMessage
