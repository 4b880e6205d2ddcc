import HiVGModel

/// The tiny HiVG fixtures have 2 heads per tower (no config.json beside them); tests give them as
/// flags, as a user would.
public func tinyOverrides() -> ConfigOverrides {
    var o = ConfigOverrides()
    o.textHeads = 2
    o.visionHeads = 2
    o.vlHeads = 2
    return o
}
