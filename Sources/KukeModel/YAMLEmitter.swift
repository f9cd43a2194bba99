import CYAML

/// Writes a `ManifestValue` as one YAML document through libyaml's emitter: block style,
/// two-space indent, no line folding, UTF-8 unescaped, keys in the order given. A string
/// YAML would read back as another type (`"12"`, `"true"`, `""`) is double-quoted.
enum YAMLEmitter {
    static func document(_ value: ManifestValue) -> String {
        var emitter = yaml_emitter_t()
        guard yaml_emitter_initialize(&emitter) == 1 else { return "" }
        defer { yaml_emitter_delete(&emitter) }
        var output = Output()
        return withUnsafeMutablePointer(to: &output) { pointer in
            yaml_emitter_set_output(
                &emitter,
                { context, buffer, size in
                    guard let context, let buffer else { return 0 }
                    context.assumingMemoryBound(to: Output.self).pointee.bytes.append(contentsOf: UnsafeBufferPointer(start: buffer, count: size))
                    return 1
                }, pointer)
            yaml_emitter_set_encoding(&emitter, YAML_UTF8_ENCODING)
            yaml_emitter_set_indent(&emitter, 2)
            yaml_emitter_set_width(&emitter, -1)
            yaml_emitter_set_unicode(&emitter, 1)
            yaml_emitter_set_break(&emitter, YAML_LN_BREAK)
            var event = yaml_event_t()
            var written = true
            func emit() {
                // libyaml takes the event when it accepts it; one it is not handed is freed here.
                if written { written = yaml_emitter_emit(&emitter, &event) == 1 } else { yaml_event_delete(&event) }
            }
            yaml_stream_start_event_initialize(&event, YAML_UTF8_ENCODING)
            emit()
            yaml_document_start_event_initialize(&event, nil, nil, nil, 1)
            emit()
            func node(_ value: ManifestValue) {
                switch value {
                case .string(let text):
                    scalar(
                        text, tag: "tag:yaml.org,2002:str",
                        style: PlainScalar.tag(of: text) == .str ? YAML_ANY_SCALAR_STYLE : YAML_DOUBLE_QUOTED_SCALAR_STYLE)
                case .integer(let number): scalar(String(number), tag: "tag:yaml.org,2002:int", style: YAML_ANY_SCALAR_STYLE)
                case .boolean(let flag): scalar(flag ? "true" : "false", tag: "tag:yaml.org,2002:bool", style: YAML_ANY_SCALAR_STYLE)
                case .list(let items):
                    yaml_sequence_start_event_initialize(&event, nil, nil, 1, YAML_ANY_SEQUENCE_STYLE)
                    emit()
                    items.forEach(node)
                    yaml_sequence_end_event_initialize(&event)
                    emit()
                case .map(let entries):
                    yaml_mapping_start_event_initialize(&event, nil, nil, 1, YAML_ANY_MAPPING_STYLE)
                    emit()
                    for entry in entries {
                        scalar(entry.key, tag: "tag:yaml.org,2002:str", style: YAML_ANY_SCALAR_STYLE)
                        node(entry.value)
                    }
                    yaml_mapping_end_event_initialize(&event)
                    emit()
                }
            }
            func scalar(_ text: String, tag: String, style: yaml_scalar_style_t) {
                var text = text
                text.withUTF8 { bytes in
                    tag.withCString { tag in
                        // libyaml copies both; it reads `value` only for `length` bytes.
                        _ = yaml_scalar_event_initialize(
                            &event, nil, UnsafeMutablePointer(mutating: UnsafeRawPointer(tag).assumingMemoryBound(to: yaml_char_t.self)),
                            UnsafeMutablePointer(mutating: bytes.baseAddress ?? UnsafePointer(bitPattern: 1)!), Int32(bytes.count), 1, 1, style)
                    }
                }
                emit()
            }
            node(value)
            yaml_document_end_event_initialize(&event, 1)
            emit()
            yaml_stream_end_event_initialize(&event)
            emit()
            return written ? String(decoding: pointer.pointee.bytes, as: UTF8.self) : ""
        }
    }

    /// What the emitter has written so far.
    private struct Output {
        var bytes: [UInt8] = []
    }
}
