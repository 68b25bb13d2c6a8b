// Package archtest holds no code: its tests keep the module's shape. They
// parse every non-test Go file of the module and fail naming each function
// over MaxFuncLines lines and each file over MaxFileLines, so that a
// reviewer reads code split by concern; and they check the layering the
// README draws: the domain (internal/lottery) imports only the standard
// library, internal/server reaches the storage and the configuration only
// through the ports cmd/server wires, and cmd/server leaves the storage to
// its own wiring package.
package archtest
