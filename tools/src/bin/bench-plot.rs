//! `bench-plot`: draws the zot/distribution ratios of requests per second and of MB per second
//! for every test of a `scripts/bench-peers` run as a PNG bar chart.
//!
//! Usage: `bench-plot COMBINED_JSON OUTPUT_PNG [--font TTF_FILE]`
//!
//! COMBINED_JSON is the file scripts/bench-peers writes: `{"zot": {"report": ZB_REPORT, ...},
//! "distribution": {"report": ZB_REPORT, ...}, ...}` with ZB_REPORT as in zb's `-o json`. One row
//! per test in zot's order with two bars, requests/s ratio above MB/s ratio, a line at 1
//! (parity). Both ratios are the same number when both registries moved the same payload; the
//! mixed tests draw their sizes at random, so there the payloads and the two ratios differ.
//!
//! Text is drawn with ab_glyph from a TrueType file read at run time (Debian's
//! fonts-dejavu-core by default) rather than through font-kit and fontconfig, so the tool needs
//! no system font lookup, and the repository carries no font file.

use std::process::ExitCode;

use plotters::prelude::*;
use plotters::style::FontStyle;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use serde_json::Value;

const FONT_FILE_DEFAULT: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
const WIDTH_PIXELS: u32 = 1200;
const ROW_HEIGHT_PIXELS: u32 = 44;
/// Title, axis, subtitle and margins around the rows.
const FRAME_HEIGHT_PIXELS: u32 = 170;
const SUBTITLE_HEIGHT_PIXELS: u32 = 26;
/// zb has 16 tests; a report with far more is not one of its reports.
const TESTS_MAX: usize = 256;

/// One measure of one test on both registries.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Rates {
    zot: f64,
    distribution: f64,
}

impl Rates {
    /// zot's divided by distribution's; None when distribution's is 0 (a test that moves no
    /// payload has no MB/s ratio).
    fn ratio(&self) -> Option<f64> {
        (self.distribution > 0.0).then(|| self.zot / self.distribution)
    }
}

/// One row of the chart.
#[derive(Debug, Clone, PartialEq)]
struct Ratio {
    test_name: String,
    requests_per_second: Rates,
    megabytes_per_second: Rates,
}

impl Ratio {
    /// The bars of the row: (label, ratio) for requests/s, then MB/s.
    fn bars(&self) -> [(&'static str, Option<f64>); 2] {
        [
            ("requests/s", self.requests_per_second.ratio()),
            ("MB/s", self.megabytes_per_second.ratio()),
        ]
    }
}

fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("bench-plot: error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(arguments: Vec<String>) -> Result<(), String> {
    let mut positional = Vec::new();
    let mut font_file = FONT_FILE_DEFAULT.to_string();
    let mut remaining = arguments.into_iter();
    while let Some(argument) = remaining.next() {
        match argument.as_str() {
            "--font" => font_file = remaining.next().ok_or("--font needs a file name")?,
            "-h" | "--help" => {
                println!("usage: bench-plot COMBINED_JSON OUTPUT_PNG [--font TTF_FILE]");
                return Ok(());
            }
            _ => positional.push(argument),
        }
    }
    let [input_file, output_file] = positional.as_slice() else {
        return Err("usage: bench-plot COMBINED_JSON OUTPUT_PNG [--font TTF_FILE]".into());
    };
    let text = std::fs::read_to_string(input_file)
        .map_err(|error| format!("reading {input_file}: {error}"))?;
    let combined: Value =
        serde_json::from_str(&text).map_err(|error| format!("parsing {input_file}: {error}"))?;
    let ratios = ratios_from_combined(&combined)?;
    let subtitle = subtitle_from_combined(&combined);
    register_font_file(&font_file)?;
    let pixels = draw(&ratios, &subtitle)?;
    write_png(
        output_file,
        &pixels,
        WIDTH_PIXELS,
        height_pixels(ratios.len()),
    )
}

/// Makes the font in FONT_FILE plotters' "sans-serif".
fn register_font_file(font_file: &str) -> Result<(), String> {
    let font_bytes =
        std::fs::read(font_file).map_err(|error| format!("reading font {font_file}: {error}"))?;
    // plotters keeps registered fonts for the life of the process and asks for 'static bytes;
    // this process draws one picture and exits, so the leak is the whole lifetime anyway.
    let font_bytes: &'static [u8] = Box::leak(font_bytes.into_boxed_slice());
    plotters::style::register_font("sans-serif", FontStyle::Normal, font_bytes)
        .map_err(|_| format!("{font_file} is not a TrueType/OpenType font"))
}

/// The tests of zot's report, each with distribution's test of the same name.
fn ratios_from_combined(combined: &Value) -> Result<Vec<Ratio>, String> {
    let zot_tests = tests_of(combined, "zot")?;
    let distribution_tests = tests_of(combined, "distribution")?;
    if zot_tests.len() > TESTS_MAX {
        return Err(format!("{} tests, more than {TESTS_MAX}", zot_tests.len()));
    }
    let mut ratios = Vec::with_capacity(zot_tests.len());
    for zot_test in zot_tests {
        let test_name = zot_test["name"]
            .as_str()
            .ok_or("a test of zot's report has no name")?;
        let distribution_test = distribution_tests
            .iter()
            .find(|test| test["name"].as_str() == Some(test_name))
            .ok_or_else(|| format!("distribution's report has no test '{test_name}'"))?;
        let rates = |field: &str| -> Result<Rates, String> {
            Ok(Rates {
                zot: rate(zot_test, field, "zot", test_name)?,
                distribution: rate(distribution_test, field, "distribution", test_name)?,
            })
        };
        ratios.push(Ratio {
            test_name: test_name.to_string(),
            requests_per_second: rates("requests_per_second")?,
            megabytes_per_second: rates("megabytes_per_second")?,
        });
    }
    if ratios.is_empty() {
        return Err("zot's report has no tests".into());
    }
    Ok(ratios)
}

fn tests_of<'a>(combined: &'a Value, registry: &str) -> Result<&'a Vec<Value>, String> {
    combined[registry]["report"]["tests"]
        .as_array()
        .ok_or_else(|| format!("no {registry}.report.tests array"))
}

/// FIELD of TEST, a finite number at or above 0.
fn rate(test: &Value, field: &str, registry: &str, test_name: &str) -> Result<f64, String> {
    let value = test[field]
        .as_f64()
        .ok_or_else(|| format!("{registry}: test '{test_name}' has no {field}"))?;
    if !(value.is_finite() && value >= 0.0) {
        return Err(format!(
            "{registry}: test '{test_name}' has {field} {value}"
        ));
    }
    Ok(value)
}

/// "zb -c 16 -n 100, 2 cores, …" from the settings the script recorded, when present.
fn subtitle_from_combined(combined: &Value) -> String {
    let zb = &combined["zot"]["report"]["zb"];
    let mut parts = Vec::new();
    if zb["version"].as_str() == Some("stand-in") {
        parts.push("FAKE NUMBERS from scripts/bench/zb-stand-in".to_string());
    }
    if let (Some(concurrency), Some(requests)) =
        (zb["concurrency"].as_u64(), zb["requests"].as_u64())
    {
        parts.push(format!("zb -c {concurrency} -n {requests}"));
    }
    if let Some(layout) = combined["machine"]["layout"].as_str() {
        parts.push(layout.to_string());
    }
    if let Some(date) = combined["machine"]["date"].as_str() {
        parts.push(date.to_string());
    }
    parts.join(", ")
}

/// Rows count from the bottom of the chart; the first test goes on top. The mapping is its own
/// inverse.
fn index_of_row(row: usize, rows: usize) -> usize {
    assert!(row < rows);
    rows - 1 - row
}

fn height_pixels(rows: usize) -> u32 {
    let rows = u32::try_from(rows).expect("at most TESTS_MAX rows");
    FRAME_HEIGHT_PIXELS + rows * ROW_HEIGHT_PIXELS
}

/// The chart as RGB bytes, WIDTH_PIXELS by height_pixels(ratios.len()).
fn draw(ratios: &[Ratio], subtitle: &str) -> Result<Vec<u8>, String> {
    assert!(!ratios.is_empty() && ratios.len() <= TESTS_MAX);
    let height = height_pixels(ratios.len());
    let mut pixels = vec![0_u8; WIDTH_PIXELS as usize * height as usize * 3];
    {
        let backend = BitMapBackend::with_buffer(&mut pixels, (WIDTH_PIXELS, height));
        let root = backend.into_drawing_area();
        root.fill(&WHITE).map_err(|error| error.to_string())?;
        // The run's settings go on a line of their own under the chart.
        let (chart_area, footer_area) = root.split_vertically(height - SUBTITLE_HEIGHT_PIXELS);
        footer_area
            .draw_text(
                subtitle,
                &("sans-serif", 14).into_font().color(&BLACK),
                (16, 4),
            )
            .map_err(|error| error.to_string())?;
        let largest = ratios
            .iter()
            .flat_map(|ratio| ratio.bars().map(|(_, value)| value))
            .flatten()
            .fold(1.0_f64, f64::max);
        // Room right of the longest bar for its number.
        let x_max = largest * 1.25;
        let rows = ratios.len();
        let title = "zot / distribution per test: requests/s and MB/s (1 = parity)";
        let mut chart = ChartBuilder::on(&chart_area)
            .caption(title, ("sans-serif", 24))
            .margin(16)
            .x_label_area_size(40)
            .y_label_area_size(430)
            // An integer range includes its end: rows - 1 gives one segment per test.
            .build_cartesian_2d(0.0..x_max, (0..rows - 1).into_segmented())
            .map_err(|error| error.to_string())?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(rows)
            .y_label_style(("sans-serif", 15))
            .y_label_formatter(&|segment| match segment {
                SegmentValue::CenterOf(row) | SegmentValue::Exact(row) => ratios
                    .get(index_of_row(*row, rows))
                    .map(|ratio| ratio.test_name.clone())
                    .unwrap_or_default(),
                SegmentValue::Last => String::new(),
            })
            .x_desc("zot's rate divided by distribution's")
            .x_label_style(("sans-serif", 14))
            .axis_desc_style(("sans-serif", 15))
            .draw()
            .map_err(|error| error.to_string())?;
        // Requests/s solid, MB/s paler; green where zot is ahead, red where it is behind.
        let ahead = RGBColor(46, 125, 50);
        let behind = RGBColor(198, 40, 40);
        let row_pixels = chart.plotting_area().dim_in_pixel().1
            / u32::try_from(rows).expect("at most TESTS_MAX rows");
        let half_pixels = row_pixels / 2;
        for (index, ratio) in ratios.iter().enumerate() {
            let row = index_of_row(index, rows);
            for (bar_index, (label, value)) in ratio.bars().into_iter().enumerate() {
                let Some(value) = value else {
                    continue;
                };
                let color = if value >= 1.0 { ahead } else { behind };
                let opacity = if bar_index == 0 { 0.9 } else { 0.45 };
                let mut bar = Rectangle::new(
                    [
                        (0.0, SegmentValue::Exact(row)),
                        (value, SegmentValue::Exact(row + 1)),
                    ],
                    color.mix(opacity).filled(),
                );
                // The upper half of the row for requests/s, the lower for MB/s, with a few
                // pixels of white above and below the pair.
                if bar_index == 0 {
                    bar.set_margin(3, half_pixels, 0, 0);
                } else {
                    bar.set_margin(row_pixels - half_pixels, 3, 0, 0);
                }
                chart
                    .draw_series(std::iter::once(bar))
                    .map_err(|error| error.to_string())?;
                // The number beside the bar's end, centred on its half of the row.
                let half_offset = i32::try_from(row_pixels / 4).expect("a small row");
                let offset = if bar_index == 0 {
                    -half_offset
                } else {
                    half_offset
                };
                let text = format!("{value:.2} {label}");
                chart
                    .draw_series(std::iter::once(
                        EmptyElement::at((value, SegmentValue::CenterOf(row)))
                            + Text::new(
                                text,
                                (6, offset),
                                ("sans-serif", 12)
                                    .into_font()
                                    .color(&BLACK)
                                    .pos(Pos::new(HPos::Left, VPos::Center)),
                            ),
                    ))
                    .map_err(|error| error.to_string())?;
            }
        }
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![
                    (1.0, SegmentValue::Exact(0)),
                    (1.0, SegmentValue::Exact(rows)),
                ],
                BLACK.stroke_width(2),
            )))
            .map_err(|error| error.to_string())?;
        root.present().map_err(|error| error.to_string())?;
    }
    Ok(pixels)
}

fn write_png(path: &str, pixels: &[u8], width: u32, height: u32) -> Result<(), String> {
    assert_eq!(pixels.len(), width as usize * height as usize * 3);
    let file = std::fs::File::create(path).map_err(|error| format!("creating {path}: {error}"))?;
    let mut encoder = png::Encoder::new(std::io::BufWriter::new(file), width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder
        .write_header()
        .map_err(|error| format!("writing {path}: {error}"))?;
    writer
        .write_image_data(pixels)
        .map_err(|error| format!("writing {path}: {error}"))?;
    writer
        .finish()
        .map_err(|error| format!("writing {path}: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A report with tests of (name, requests/s, MB/s).
    fn report(tests: &[(&str, f64, f64)]) -> Value {
        json!({
            "zb": {"concurrency": 4, "requests": 20},
            "tests": tests
                .iter()
                .map(|(name, requests, megabytes)| json!({
                    "name": name,
                    "requests_per_second": requests,
                    "megabytes_per_second": megabytes,
                }))
                .collect::<Vec<_>>(),
        })
    }

    #[test]
    fn ratios_follow_zot_order_and_match_by_name() {
        let combined = json!({
            "zot": {"report": report(&[("Pull 1MB", 300.0, 315.0), ("Get Catalog", 50.0, 0.0)])},
            "distribution": {
                "report": report(&[("Get Catalog", 100.0, 0.0), ("Pull 1MB", 100.0, 210.0)]),
            },
        });
        let ratios = ratios_from_combined(&combined).unwrap();
        assert_eq!(ratios.len(), 2);
        assert_eq!(ratios[0].test_name, "Pull 1MB");
        assert_eq!(
            ratios[0].bars(),
            [("requests/s", Some(3.0)), ("MB/s", Some(1.5))]
        );
        assert_eq!(ratios[1].test_name, "Get Catalog");
        // No payload: no MB/s ratio.
        assert_eq!(
            ratios[1].bars(),
            [("requests/s", Some(0.5)), ("MB/s", None)]
        );
    }

    #[test]
    fn a_test_missing_from_distribution_is_an_error() {
        let combined = json!({
            "zot": {"report": report(&[("Pull 1MB", 300.0, 300.0)])},
            "distribution": {"report": report(&[("Get Catalog", 100.0, 0.0)])},
        });
        let error = ratios_from_combined(&combined).unwrap_err();
        assert!(error.contains("Pull 1MB"), "{error}");
    }

    #[test]
    fn a_negative_or_missing_rate_is_an_error() {
        let combined = json!({
            "zot": {"report": report(&[("Pull 1MB", -1.0, 300.0)])},
            "distribution": {"report": report(&[("Pull 1MB", 100.0, 100.0)])},
        });
        let error = ratios_from_combined(&combined).unwrap_err();
        assert!(error.contains("requests_per_second -1"), "{error}");
        let combined = json!({
            "zot": {"report": {"tests": [{"name": "Pull 1MB", "requests_per_second": 1.0}]}},
            "distribution": {"report": report(&[("Pull 1MB", 100.0, 100.0)])},
        });
        let error = ratios_from_combined(&combined).unwrap_err();
        assert!(error.contains("no megabytes_per_second"), "{error}");
    }

    #[test]
    fn draws_a_png_of_the_expected_size() {
        if let Err(error) = register_font_file(FONT_FILE_DEFAULT) {
            panic!("{error} (Debian: apt-get install fonts-dejavu-core)");
        }
        let ratios = vec![
            Ratio {
                test_name: "Pull 1MB".into(),
                requests_per_second: Rates {
                    zot: 200.0,
                    distribution: 100.0,
                },
                megabytes_per_second: Rates {
                    zot: 200.0,
                    distribution: 100.0,
                },
            },
            Ratio {
                test_name: "Get Catalog".into(),
                requests_per_second: Rates {
                    zot: 50.0,
                    distribution: 100.0,
                },
                megabytes_per_second: Rates {
                    zot: 0.0,
                    distribution: 0.0,
                },
            },
        ];
        let pixels = draw(&ratios, "zb -c 4 -n 20").unwrap();
        // Something other than white was drawn: bars, text and axes.
        assert!(pixels.iter().any(|byte| *byte != 255));
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("ratios.png");
        let path = path.to_str().unwrap();
        write_png(path, &pixels, WIDTH_PIXELS, height_pixels(ratios.len())).unwrap();
        let decoder =
            png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
        let reader = decoder.read_info().unwrap();
        assert_eq!(reader.info().width, WIDTH_PIXELS);
        assert_eq!(reader.info().height, height_pixels(2));
    }
}
