// Package broker hands a sandboxed plugin the host files and connections its
// manifest's "broker" section names, and nothing else.
package broker
