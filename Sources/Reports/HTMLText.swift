// Text helpers for the report's three formats: XML/HTML escaping, CSV fields and Markdown tables.
import Foundation

/// Escaping and table layout for HTML, CSV and Markdown.
public enum HTMLText {
    /// `text` with `& < > " '` written as character references (safe in elements and attributes).
    public static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.count)
        for c in text {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(c)
            }
        }
        return out
    }

    /// A CSV field (RFC 4180): quoted when it holds a comma, quote or line break.
    public static func csvField(_ field: String) -> String {
        guard field.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return field }
        return "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// A CSV document: a header row, then the rows, each line ended by "\n".
    public static func csv(header: [String], rows: [[String]]) -> String {
        ([header] + rows).map { $0.map(csvField).joined(separator: ",") + "\n" }.joined()
    }

    /// A Markdown table (pipes in cells escaped).
    public static func markdownTable(header: [String], rows: [[String]]) -> String {
        func line(_ cells: [String]) -> String {
            "| "
                + cells.map { $0.replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "\n", with: " ") }
                .joined(separator: " | ") + " |"
        }
        return ([line(header), "|" + String(repeating: "---|", count: header.count)] + rows.map(line)).joined(separator: "\n") + "\n"
    }

    /// An HTML table with a header row; cells are escaped.
    public static func htmlTable(header: [String], rows: [[String]], cssClass: String = "numbers") -> String {
        var s = "<table class=\"\(cssClass)\">\n<thead><tr>" + header.map { "<th>\(escape($0))</th>" }.joined() + "</tr></thead>\n<tbody>\n"
        for r in rows { s += "<tr>" + r.map { "<td>\(escape($0))</td>" }.joined() + "</tr>\n" }
        return s + "</tbody>\n</table>\n"
    }
}
