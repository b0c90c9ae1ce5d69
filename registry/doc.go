// Package registry is modelgate's catalog of providers and agent runtimes, and
// the one function that decides who serves a model: Derive. Discovery
// (list_offered_models), the provisioning gate and the provisioning backstop
// all call Derive on the same Catalog, so what discovery offers and what
// provisioning enforces cannot disagree.
//
// A catalog is a YAML file (the default one is embedded from default.yaml;
// an operator may load another with LoadFile). It declares providers, each
// with the environment variable names that carry its credential (auth_env)
// and an RE2 prefix pattern, and runtimes, each with an ordered list of arms.
// An arm names a provider and optionally lists exact model ids. An arm that
// lists ids is closed: on that runtime its provider serves exactly those ids
// and its pattern is not consulted. An arm that lists no ids is open: any id
// its provider's pattern accepts is routed to it, and nothing about it is
// offered in discovery, because the catalog cannot know which ids exist there.
//
// Derive tries exact ids first (several arms may list one id, and the
// available credentials pick among them, as with codex's subscription and
// API arms), then the patterns of open arms only. It never guesses by
// substring or by a pattern of a closed arm: a typo such as
// "claude-sonet-4-6", or an id newer than the catalog, is refused with
// suggestions instead of creating a workspace that fails when it starts. A
// refused id costs the user one retry; a wrongly routed one costs a broken
// workspace and, worse, may bill the wrong account.
//
// Load validates everything Derive relies on (patterns compile and are
// anchored at the start, every arm names a known provider, the default model
// is platform-billed on the default runtime) and precomputes the indexes
// Derive and Offered use, so a Catalog is immutable after loading, safe for
// concurrent use, and Derive on an exact id does not allocate.
package registry
