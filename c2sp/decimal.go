package c2sp

import (
	"errors"
	"strconv"
)

var errNotCanonical = errors.New("not a canonical decimal")

// ParseDecimal parses an unsigned decimal with no sign, no leading zeros
// (except "0" itself) and no surrounding space, as the C2SP specs require.
func ParseDecimal(s string) (uint64, error) {
	if s == "" || len(s) > 20 || (len(s) > 1 && s[0] == '0') {
		return 0, errNotCanonical
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, errNotCanonical
		}
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, errNotCanonical
	}
	return n, nil
}
