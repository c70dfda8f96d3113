package sqlq

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/probity/probity"
	"github.com/probity/probity/guard"
	"github.com/probity/probity/store"
)

// ApprovalData encodes the parts of an approval that do not change when it
// is resolved (the columns hold those that do).
func ApprovalData(a guard.Approval) ([]byte, error) {
	a.Status, a.By, a.Note, a.Resolved = "", "", "", time.Time{}
	// Arguments are kept as the agent sent them: json.Marshal would
	// rewrite < > & in them as \u003c..., which pages then show.
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(a); err != nil {
		return nil, fmt.Errorf("encode approval: %w", err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// DecodeApproval rebuilds an approval from its row.
func DecodeApproval(data []byte, status, by, note string, resolvedNS int64) (guard.Approval, error) {
	var a guard.Approval
	if err := json.Unmarshal(data, &a); err != nil {
		return a, fmt.Errorf("decode approval: %w", err)
	}
	a.Status, a.By, a.Note, a.Resolved = status, by, note, store.FromNanos(resolvedNS)
	return a, nil
}

// Already is the ECONFLICT of resolving an approval that is not pending.
func Already(a guard.Approval) error {
	return &probity.Error{Code: probity.ECONFLICT, Message: "approval " + a.ID + " is already " + a.Status}
}

// Expired notes why the store expired an approval.
const Expired = "no decision before the deadline"

// CheckResolve validates the status an approval is resolved to.
func CheckResolve(status string) error {
	switch status {
	case guard.StatusApproved, guard.StatusDenied, guard.StatusExpired:
		return nil
	}
	return probity.Errorf(probity.EINVALID, "approval status %q: want approved, denied or expired", status)
}
