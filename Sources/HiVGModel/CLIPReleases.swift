/// The attention head counts of the released CLIP towers (OpenAI's and open_clip's configs), keyed by
/// tower and width: what the loader assumes when no config says otherwise. Head counts cannot be read
/// from shapes, and a width does not decide them alone: open_clip's ViT-H/14 vision tower is 1280 wide
/// with 16 heads (head_dim 80) while the bigG/14 text tower of the same width has 20.
public enum CLIPReleases {
    public enum Tower: String, Sendable { case text, vision }

    /// (tower, width, heads, the releases that use it).
    public static let heads: [(tower: Tower, width: Int, heads: Int, models: String)] = [
        (.text, 512, 8, "OpenAI ViT-B/32, ViT-B/16"),
        (.text, 768, 12, "OpenAI ViT-L/14, ViT-L/14-336"),
        (.text, 1024, 16, "open_clip ViT-H/14, ViT-g/14"),
        (.text, 1280, 20, "open_clip ViT-bigG/14"),
        (.vision, 768, 12, "OpenAI ViT-B/32, ViT-B/16"),
        (.vision, 1024, 16, "OpenAI ViT-L/14, ViT-L/14-336"),
        (.vision, 1280, 16, "open_clip ViT-H/14"),
        (.vision, 1408, 16, "open_clip ViT-g/14"),
        (.vision, 1664, 16, "open_clip ViT-bigG/14"),
    ]

    /// The released head count of a tower of `width`, with the releases it comes from; nil for widths
    /// no released CLIP has.
    public static func heads(_ tower: Tower, width: Int) -> (heads: Int, models: String)? {
        heads.first { $0.tower == tower && $0.width == width }.map { ($0.heads, $0.models) }
    }
}
