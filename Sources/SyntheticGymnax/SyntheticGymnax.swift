// The core's public module: its layers, each a target of its own (see
// Package.swift), re-exported so that `import SyntheticGymnax` is the whole
// public API.
@_exported import SGXSupport
@_exported import SGXRandom
@_exported import SGXNN
@_exported import SGXEnvironments
@_exported import SGXAgents
@_exported import SGXMetaLearning
