import HiVGCore
import HiVGFormats

/// The whole graph: inputs, the model's body, outputs, metadata.
extension ONNXEmitter {
    /// Metadata keys of the preprocessing recipe (the config and provenance use ModelWriter's keys).
    static let preprocessKey = "hivgkit.preprocess"

    /// Emits the graph and returns the model (initializer data still lazy: read when written).
    func model(provenance: Provenance) throws -> ONNXModel {
        let s = d.vision.imageSize, l = d.config.maxPositions
        let idType: ONNXElementType = options.int32Ids ? .int32 : .int64
        if d.isHiVG {
            guard options.tower == .both else {
                throw FormatError(.unsupported, file: job.path, "--tower is for plain CLIP models; a HiVG graph needs both towers")
            }
            let pixels = g.input("pixel_values", .float, [.batch, .fixed(3), .fixed(s), .fixed(s)])
            let mask = g.input("pixel_mask", .bool, [.batch, .fixed(s), .fixed(s)])
            let ids = g.input("input_ids", idType, [.batch, .fixed(l)])
            batchSource = pixels
            let box = try hivg(pixels: computeInput(pixels), mask: mask, ids: ids)
            g.output(g.rename(box, to: "pred_box"), shape: [.batch, .fixed(4)])
        } else {
            let pixels = options.tower != .text ? g.input("pixel_values", .float, [.batch, .fixed(3), .fixed(s), .fixed(s)]) : nil
            let ids = options.tower != .image ? g.input("input_ids", idType, [.batch, .fixed(l)]) : nil
            batchSource = pixels ?? ids
            let pd = d.config.projectionDim
            if let pixels { g.output(g.rename(try imageEmbeds(computeInput(pixels)), to: "image_embeds"), shape: [.batch, .fixed(pd)]) }
            if let ids { g.output(g.rename(try textEmbeds(ids), to: "text_embeds"), shape: [.batch, .fixed(pd)]) }
        }
        let metadata: [String: String] = [
            ModelWriter.configKey: job.configJSON,
            ModelWriter.provenanceKey: provenance.json,
            Self.preprocessKey: preprocessRecipe().rendered(pretty: false, sortedKeys: false),
            "hivgkit.onnx": JSONValue.object([
                ("precision", .string(precision.rawValue)), ("batch_quirk", .bool(options.batchQuirk)),
                ("tower", .string(d.isHiVG ? "both" : options.tower.rawValue)),
                ("input_ids", .string(options.int32Ids ? "int32" : "int64")),
            ]).rendered(pretty: false, sortedKeys: false),
        ]
        let doc = d.isHiVG
            ? "HiVG visual grounding: pred_box (cx, cy, w, h) in [0, 1] of the padded square input; see hivgkit.preprocess"
            : "CLIP: L2-normalised image/text embeddings; see hivgkit.preprocess"
        return try g.model(opsets: [.default17], producerVersion: Self.version(job.provenance.tool), docString: doc, metadata: metadata)
    }

    /// The version of a provenance `tool` string (`hivgkit 0.1.0` → `0.1.0`; producer_name says hivgkit).
    static func version(_ tool: String) -> String {
        tool.hasPrefix("hivgkit ") ? String(tool.dropFirst("hivgkit ".count)) : tool
    }

    /// pixel_values in the compute type (an F16 graph casts its F32 input once).
    private func computeInput(_ x: ONNXValue) -> ONNXValue {
        precision == .f16 ? g.cast(x, to: .float16, name: "/input/pixel_values/Cast") : x
    }

    /// What a deployer must feed: the canvas, normalisation, pad rule, tokenizer (also `preprocess.json`).
    func preprocessRecipe() -> JSONValue {
        func num(_ f: Float) -> JSONValue { .double(Double("\(f)") ?? Double(f)) }
        let s = d.vision.imageSize, norm = d.imageNormalization
        var members: [(String, JSONValue)] = [
            ("model", .string(d.isHiVG ? "hivg" : "clip")),
            ("image_size", .int(s)),
            ("pixel_values", .string("float32 (B, 3, \(s), \(s)), RGB, channel-first: value/255 then (x − mean)/std per channel")),
            ("mean", .array(norm.mean.map(num))), ("std", .array(norm.std.map(num))),
        ]
        if d.isHiVG {
            members += [
                ("resize", .string("long side to \(s): ratio = \(s)/max(w, h), new size round(w·ratio) × round(h·ratio) (half to even), Pillow bilinear")),
                ("pad", .string("letterbox into \(s)×\(s): left = round((\(s) − new_w)/2 − 0.1), top = round((\(s) − new_h)/2 − 0.1) "
                        + "(half to even); padded pixels 0 after normalisation")),
                ("pixel_mask", .string("bool (B, \(s), \(s)): true on padding, false on the photo")),
                ("pred_box", .string("(cx, cy, w, h) / \(s) in the padded canvas; subtract left/top and divide by ratio for the photo")),
            ]
        } else {
            members.append(("resize", .string("shortest side to \(s) (bicubic), centre crop \(s)×\(s) (CLIPImageProcessor)")))
        }
        var tok: [(String, JSONValue)] = [
            ("kind", .string("CLIP BPE (openai/CLIP simple_tokenizer)")), ("context_length", .int(d.config.maxPositions)),
            ("layout", .string("<|startoftext|> tokens <|endoftext|>, then 0 to the context length"
                + (d.isHiVG ? "; id 0 marks padding (masked keys)" : ""))),
        ]
        if let h = options.vocabularySHA256 { tok.append(("vocabulary_sha256", .string(h))) }
        members.append(("tokenizer", .object(tok)))
        members.append(("input_ids", .string(options.int32Ids ? "int32" : "int64")))
        return .object(members)
    }
}
