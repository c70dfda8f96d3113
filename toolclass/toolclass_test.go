package toolclass_test

import (
	"testing"

	"github.com/probity/probity/toolclass"
)

func TestByName(t *testing.T) {
	tests := []struct {
		name string
		want toolclass.Class
	}{
		{"cancel_pending_order", toolclass.SideEffect},
		{"modify_pending_order_address", toolclass.SideEffect},
		{"exchange_delivered_order_items", toolclass.SideEffect},
		{"return_delivered_order_items", toolclass.SideEffect},
		{"book_reservation", toolclass.SideEffect},
		{"update_reservation_flights", toolclass.SideEffect},
		{"send_certificate", toolclass.SideEffect},
		{"transfer_to_human_agents", toolclass.SideEffect},
		{"sendEmail", toolclass.SideEffect},
		{"crm.update-contact", toolclass.SideEffect},
		{"IssueRefund", toolclass.SideEffect},
		{"write_file", toolclass.SideEffect},
		{"get_order_details", toolclass.ReadOnly},
		{"get_refund_status", toolclass.ReadOnly},
		{"list_all_airports", toolclass.ReadOnly},
		{"search_direct_flight", toolclass.ReadOnly},
		{"find_user_id_by_email", toolclass.ReadOnly},
		{"get_payment_methods", toolclass.ReadOnly},
		{"think", toolclass.ReadOnly},
		{"calculate", toolclass.Calculator},
		{"math_eval", toolclass.SideEffect}, // eval runs code, whatever else the name says
		{"bookkeeper", toolclass.Unknown},   // "book" only as a whole word
		{"", toolclass.Unknown},
		// Code execution, shell, SQL, HTTP, file destruction and payments
		// (issue 10): side-effecting whatever else the name says.
		{"bash", toolclass.SideEffect},
		{"shell", toolclass.SideEffect},
		{"sh", toolclass.SideEffect},
		{"terminal", toolclass.SideEffect},
		{"python", toolclass.SideEffect},
		{"eval", toolclass.SideEffect},
		{"sql_query", toolclass.SideEffect},
		{"query_sql", toolclass.SideEffect},
		{"http_request", toolclass.SideEffect},
		{"HTTPGetURL", toolclass.SideEffect},
		{"curl", toolclass.SideEffect},
		{"rm", toolclass.SideEffect},
		{"unlink", toolclass.SideEffect},
		{"rmdir", toolclass.SideEffect},
		{"chmod", toolclass.SideEffect},
		{"truncate_table", toolclass.SideEffect},
		{"wire_money", toolclass.SideEffect},
	}
	for _, tt := range tests {
		if got := toolclass.ByName(tt.name); got != tt.want {
			t.Errorf("ByName(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
}

// TestSideEffectingFailsClosed: an unknown tool is side-effecting unless
// configured otherwise; configuration wins over the name, exact names over
// globs, the longest glob over shorter ones.
func TestSideEffectingFailsClosed(t *testing.T) {
	cfg := &toolclass.Config{
		Tools:       map[string]toolclass.Class{"frobnicate": toolclass.ReadOnly, "crm_*": toolclass.SideEffect, "crm_get_*": toolclass.ReadOnly, "tax_helper": toolclass.Calculator},
		SideEffects: map[string]bool{"bash": false},
	}
	tests := []struct {
		cfg  *toolclass.Config
		tool string
		want bool
	}{
		{nil, "frobnicate", true},
		{nil, "get_user", false},
		{nil, "calculate", false},
		{cfg, "frobnicate", false},
		{cfg, "crm_get_contact", false},
		{cfg, "crm_delete_contact", true},
		{cfg, "bash", false}, // the user said so
		{cfg, "tax_helper", false},
		{cfg, "something_else", true},
	}
	for _, tt := range tests {
		if got := tt.cfg.SideEffecting(tt.tool); got != tt.want {
			t.Errorf("%v.SideEffecting(%q) = %v, want %v", tt.cfg != nil, tt.tool, got, tt.want)
		}
	}
	if !cfg.Calculator("tax_helper") || cfg.Calculator("frobnicate") {
		t.Errorf("Calculator: configured class not honoured")
	}
}

func TestValidate(t *testing.T) {
	for _, c := range []*toolclass.Config{
		{Tools: map[string]toolclass.Class{"a": "maybe"}},
		{Tools: map[string]toolclass.Class{"[": toolclass.ReadOnly}},
		{SideEffects: map[string]bool{"[": true}},
	} {
		if err := c.Validate(); err == nil {
			t.Errorf("Validate(%+v) = nil, want an error", c)
		}
	}
	if err := (&toolclass.Config{Tools: map[string]toolclass.Class{"a_*": toolclass.Calculator}}).Validate(); err != nil {
		t.Errorf("Validate(valid) = %v", err)
	}
}

func TestNoOp(t *testing.T) {
	tests := []struct {
		name string
		want bool
	}{
		{"think", true},
		{"Think", true},
		{"plan", true},
		{"reflect", true},
		{"update_plan", true},
		{"sequentialThinking", true},
		{"write_note", true},
		{"scratchpad", true},
		{"plan_trip", false},          // plans a trip: a real action or lookup
		{"reason_code_lookup", false}, // looks a reason code up
		{"update_reservation_flights", false},
		{"get_order_details", false},
		{"update", false}, // no scratchpad word at all
		{"", false},
	}
	for _, tt := range tests {
		if got := toolclass.NoOp(tt.name); got != tt.want {
			t.Errorf("NoOp(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
	cfg := &toolclass.Config{Tools: map[string]toolclass.Class{"plan": toolclass.SideEffect, "think": toolclass.ReadOnly}}
	if cfg.NoOp("plan") {
		t.Errorf("Config.NoOp(plan) with plan configured side-effect = true, want false")
	}
	if !cfg.NoOp("think") || !cfg.NoOp("reflect") {
		t.Errorf("Config.NoOp(think), NoOp(reflect) = %v, %v, want true, true", cfg.NoOp("think"), cfg.NoOp("reflect"))
	}
}
