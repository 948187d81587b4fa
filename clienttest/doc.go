// Package clienttest is a conformance kit for Winsock clients.
package clienttest
