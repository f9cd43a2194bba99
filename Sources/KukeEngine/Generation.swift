/// `metadata.generation`: 1 on create, one more on each spec change (saturating, so a
/// hand-edited huge value cannot overflow).
enum Generation {
    static func next(_ stored: Int64?, specChanged: Bool) -> Int64 {
        guard let stored else { return 1 }
        return specChanged ? (stored == Int64.max ? stored : stored + 1) : stored
    }
}
