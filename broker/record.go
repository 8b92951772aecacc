package broker

// Record is one decision of the broker, for the violation log.
type Record struct {
	// Op is "open" or "connect".
	Op string `json:"op"`
	// Target is the path or destination the plugin named.
	Target string `json:"target"`
	// Access is what an open asked for ("read", "write,create" ...).
	Access string `json:"access,omitempty"`
	// Via is "seccomp" (the plugin's own call, brokered transparently)
	// or "socket" (the explicit protocol).
	Via string `json:"via"`
	// Granted says the plugin got a descriptor; Rule names the rule.
	Granted bool   `json:"granted"`
	Rule    string `json:"rule,omitempty"`
	// Reason says why a request was refused.
	Reason string `json:"reason,omitempty"`
	// FD is the descriptor number the plugin's connected socket has (a
	// transparent connect); the number an open returns is the plugin's.
	FD int `json:"fd,omitempty"`
}
