/// This module's API speaks Common's types (Box, SizeClass, FNV1a64, SplitMix64): importing Datasets brings them.
@_exported import Common
